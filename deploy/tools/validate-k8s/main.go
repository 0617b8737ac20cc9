// Command validate-k8s checks rendered Kubernetes manifests without a cluster.
//
// It reads multi-document YAML (the output of `kubectl kustomize`) from the files named on the
// command line, or from standard input, and checks every object:
//
//   - built-in kinds against the Kubernetes OpenAPI schema that k8s.io/client-go embeds (the one
//     server-side apply uses), and by strict decoding into the k8s.io/api types, so unknown
//     fields, duplicate fields and wrong value types are errors;
//   - ServiceMonitor and PrometheusRule by strict decoding into the prometheus-operator types;
//   - Strimzi KafkaTopic by strict decoding into the fields of its v1beta2 schema;
//   - a few rules the API server enforces that no schema expresses, such as a workload selector
//     that must match its pod template labels.
//
// The schemas come with the Go modules, so nothing is fetched at run time. NOTE: the checks of
// the API server's own validation code (k8s.io/kubernetes) are not available as a library, so
// an object can pass here and still be rejected by a cluster for a reason not listed above.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
)

// kafkaTopic is the part of Strimzi's KafkaTopic (kafka.strimzi.io/v1beta2) that a manifest may
// set. Strimzi publishes no Go types, so the fields follow its CRD's published schema.
type kafkaTopic struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		TopicName  string                     `json:"topicName,omitempty"`
		Partitions *int32                     `json:"partitions"`
		Replicas   *int32                     `json:"replicas"`
		Config     map[string]json.RawMessage `json:"config,omitempty"`
	} `json:"spec"`
}

func main() {
	documents, err := readDocuments(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "validate-k8s: %v\n", err)
		os.Exit(2)
	}
	if len(documents) == 0 {
		fmt.Fprintln(os.Stderr, "validate-k8s: no objects in the input, so nothing was validated")
		os.Exit(2)
	}

	validator := newValidator()
	failures := 0
	for _, object := range documents {
		problems := validator.validate(object)
		name := fmt.Sprintf("%s/%s %s", object.GetAPIVersion(), object.GetKind(), qualifiedName(object))
		if len(problems) == 0 {
			fmt.Printf("ok      %s\n", name)
			continue
		}
		failures++
		for _, problem := range problems {
			fmt.Printf("INVALID %s: %v\n", name, problem)
		}
	}
	fmt.Printf("%d objects, %d invalid\n", len(documents), failures)
	if failures > 0 {
		os.Exit(1)
	}
}

// readDocuments parses every YAML document of the named files (standard input when none).
func readDocuments(paths []string) ([]*unstructured.Unstructured, error) {
	var readers []io.Reader
	if len(paths) == 0 {
		readers = append(readers, os.Stdin)
	}
	for _, path := range paths {
		file, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		readers = append(readers, file)
	}

	var objects []*unstructured.Unstructured
	for _, reader := range readers {
		decoder := utilyaml.NewYAMLOrJSONDecoder(reader, 4096)
		for {
			var content map[string]interface{}
			err := decoder.Decode(&content)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("invalid YAML after %d objects: %w", len(objects), err)
			}
			if content == nil {
				continue // an empty document between two `---`
			}
			objects = append(objects, &unstructured.Unstructured{Object: content})
		}
	}
	return objects, nil
}

type validator struct {
	strictDecoder runtime.Decoder
	schema        managedfields.TypeConverter
}

func newValidator() *validator {
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	return &validator{
		strictDecoder: codecs.UniversalDeserializer(),
		schema:        applyconfigurations.NewTypeConverter(scheme.Scheme),
	}
}

func (v *validator) validate(object *unstructured.Unstructured) []error {
	var problems []error
	if object.GetAPIVersion() == "" || object.GetKind() == "" {
		return []error{errors.New("missing apiVersion or kind")}
	}
	for _, message := range validation.IsDNS1123Subdomain(object.GetName()) {
		problems = append(problems, fmt.Errorf("metadata.name %q: %s", object.GetName(), message))
	}
	for _, message := range validateLabels(object.GetLabels()) {
		problems = append(problems, fmt.Errorf("metadata.labels: %s", message))
	}

	raw, err := json.Marshal(object.Object)
	if err != nil {
		return append(problems, fmt.Errorf("cannot encode as JSON: %w", err))
	}
	gvk := object.GroupVersionKind()
	switch {
	case scheme.Scheme.Recognizes(gvk):
		problems = append(problems, v.validateBuiltIn(object, raw)...)
	case gvk.Group == monitoringv1.SchemeGroupVersion.Group && gvk.Version == "v1":
		problems = append(problems, validateMonitoring(gvk.Kind, raw)...)
	case gvk.Group == "kafka.strimzi.io" && gvk.Version == "v1beta2" && gvk.Kind == "KafkaTopic":
		problems = append(problems, validateKafkaTopic(raw)...)
	default:
		problems = append(problems, fmt.Errorf("no schema for %s, so it cannot be validated", gvk))
	}
	return problems
}

// validateBuiltIn checks a built-in kind against the embedded OpenAPI schema, then decodes it
// strictly into its Go type for the checks that need typed fields.
func (v *validator) validateBuiltIn(object *unstructured.Unstructured, raw []byte) []error {
	var problems []error
	if _, err := v.schema.ObjectToTyped(object); err != nil {
		problems = append(problems, fmt.Errorf("schema: %w", err))
	}

	typed, _, err := v.strictDecoder.Decode(raw, nil, nil)
	if err != nil {
		// Strict decoding returns the object together with the list of strict errors.
		problems = append(problems, fmt.Errorf("decode: %w", err))
		if typed == nil {
			return problems
		}
	}
	switch workload := typed.(type) {
	case *appsv1.Deployment:
		problems = append(problems, validateSelector(workload.Spec.Selector, workload.Spec.Template.Labels)...)
		problems = append(problems, validatePodSpec(&workload.Spec.Template.Spec)...)
	case *appsv1.StatefulSet:
		problems = append(problems, validateSelector(workload.Spec.Selector, workload.Spec.Template.Labels)...)
		problems = append(problems, validatePodSpec(&workload.Spec.Template.Spec)...)
		if workload.Spec.ServiceName == "" {
			problems = append(problems, errors.New("spec.serviceName is missing"))
		}
	case *corev1.Service:
		if len(workload.Spec.Selector) == 0 {
			problems = append(problems, errors.New("spec.selector is empty, so the service has no endpoints"))
		}
	}
	return problems
}

// validateSelector repeats the API server's rule that a workload's selector selects its own pods.
func validateSelector(selector *metav1.LabelSelector, templateLabels map[string]string) []error {
	if selector == nil {
		return []error{errors.New("spec.selector is missing")}
	}
	parsed, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return []error{fmt.Errorf("spec.selector: %w", err)}
	}
	if parsed.Empty() || !parsed.Matches(labels.Set(templateLabels)) {
		return []error{errors.New("spec.selector does not match spec.template.metadata.labels")}
	}
	return nil
}

// validatePodSpec checks what the schema cannot: every container has an image and every named
// probe port is declared by its container.
func validatePodSpec(spec *corev1.PodSpec) []error {
	var problems []error
	for _, container := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if container.Name == "" || container.Image == "" {
			problems = append(problems, fmt.Errorf("container %q: name and image are required", container.Name))
		}
		declared := map[string]bool{}
		for _, port := range container.Ports {
			declared[port.Name] = true
		}
		for kind, probe := range map[string]*corev1.Probe{
			"readinessProbe": container.ReadinessProbe,
			"livenessProbe":  container.LivenessProbe,
			"startupProbe":   container.StartupProbe,
		} {
			if probe == nil || probe.HTTPGet == nil {
				continue
			}
			port := probe.HTTPGet.Port
			if port.StrVal != "" && !declared[port.StrVal] {
				problems = append(problems, fmt.Errorf("container %q: %s uses port %q, which the container does not declare", container.Name, kind, port.StrVal))
			}
		}
	}
	return problems
}

func validateMonitoring(kind string, raw []byte) []error {
	var target interface{}
	switch kind {
	case monitoringv1.ServiceMonitorsKind:
		target = &monitoringv1.ServiceMonitor{}
	case monitoringv1.PrometheusRuleKind:
		target = &monitoringv1.PrometheusRule{}
	default:
		return []error{fmt.Errorf("monitoring.coreos.com/v1 kind %q is not one this tool validates", kind)}
	}
	if err := decodeStrictJSON(raw, target); err != nil {
		return []error{err}
	}
	if rule, ok := target.(*monitoringv1.PrometheusRule); ok {
		return validateRuleGroups(rule.Spec.Groups)
	}
	return nil
}

// validateRuleGroups checks the parts of a rule group that the prometheus-operator's admission
// webhook would reject: empty expressions and rules that are neither alert nor record.
func validateRuleGroups(groups []monitoringv1.RuleGroup) []error {
	var problems []error
	for _, group := range groups {
		for index, rule := range group.Rules {
			if rule.Expr.String() == "" {
				problems = append(problems, fmt.Errorf("group %q rule %d: expr is empty", group.Name, index))
			}
			if (rule.Alert == "") == (rule.Record == "") {
				problems = append(problems, fmt.Errorf("group %q rule %d: set exactly one of alert and record", group.Name, index))
			}
		}
	}
	return problems
}

func validateKafkaTopic(raw []byte) []error {
	var topic kafkaTopic
	if err := decodeStrictJSON(raw, &topic); err != nil {
		return []error{err}
	}
	var problems []error
	if topic.Metadata.Labels["strimzi.io/cluster"] == "" {
		problems = append(problems, errors.New("label strimzi.io/cluster is missing, so no topic operator manages the topic"))
	}
	if topic.Spec.Partitions == nil || *topic.Spec.Partitions < 1 {
		problems = append(problems, errors.New("spec.partitions must be at least 1"))
	}
	if topic.Spec.Replicas == nil || *topic.Spec.Replicas < 1 {
		problems = append(problems, errors.New("spec.replicas must be at least 1"))
	}
	for key, value := range topic.Spec.Config {
		// Strimzi accepts strings, numbers and booleans as topic config values.
		trimmed := strings.TrimSpace(string(value))
		if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") || trimmed == "null" {
			problems = append(problems, fmt.Errorf("spec.config.%s must be a string, number or boolean", key))
		}
	}
	return problems
}

func decodeStrictJSON(raw []byte, target interface{}) error {
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(target); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

func validateLabels(objectLabels map[string]string) []string {
	var messages []string
	for key, value := range objectLabels {
		for _, message := range validation.IsQualifiedName(key) {
			messages = append(messages, fmt.Sprintf("key %q: %s", key, message))
		}
		for _, message := range validation.IsValidLabelValue(value) {
			messages = append(messages, fmt.Sprintf("value of %q: %s", key, message))
		}
	}
	return messages
}

func qualifiedName(object *unstructured.Unstructured) string {
	if object.GetNamespace() == "" {
		return object.GetName()
	}
	return object.GetNamespace() + "/" + object.GetName()
}
