#!/usr/bin/env python3
"""Check that deploy/k8s/topics declares the topics that `alpr create-topics` creates.

The expected topics come from platform/src/kafka.rs: the names in `TopicNames::with_prefix`,
the configs in `topic_specs` and the defaults of `KafkaSettings` (partition count, retention
periods). The script reads those with regular expressions, so it fails loudly, and does not
guess, when that code changes shape. The replication factor is not compared, because the
manifests use 3 for production where the compiled default is 1.
"""

import re
import sys
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SOURCE = REPOSITORY_ROOT / "platform/src/kafka.rs"
TOPICS_MANIFEST = REPOSITORY_ROOT / "deploy/k8s/topics/topics.yaml"


class ShapeError(Exception):
    """The Rust source no longer looks the way this script expects."""


def evaluate(expression, defaults):
    """Return the value of a retention expression such as `14 * 24 * 3600 * 1000`."""
    expression = expression.strip()
    if expression.startswith("settings."):
        return defaults[expression.removeprefix("settings.")]
    if not re.fullmatch(r"-?\d+(\s*\*\s*\d+)*", expression):
        raise ShapeError(f"cannot evaluate {expression!r} in {KAFKA_SOURCE.name}")
    value = 1
    for factor in expression.split("*"):
        value *= int(factor)
    return value


def expected_topics():
    """Return {topic name: (partitions, {config key: value})} from the Rust source."""
    source = KAFKA_SOURCE.read_text()
    names = dict(re.findall(r'(\w+): name\("([^"]+)"\)', source))
    defaults = {
        key: evaluate(value, {})
        for key, value in re.findall(r"^\s+(\w+_ms|partitions): ([-\d\s*]+),$", source, re.MULTILINE)
    }
    specs = re.findall(
        r"(single_partition\()?spec\(&topics\.(\w+), (compact\(\)|delete_after\(([^()]*)\)|(\w+)\(\))\)",
        source,
    )
    if not names or "partitions" not in defaults or len(specs) != len(names):
        raise ShapeError(
            f"found {len(names)} topic names and {len(specs)} topic specs in {KAFKA_SOURCE}; "
            "update this script to the new shape of topic_specs"
        )
    topics = {}
    for single_partition, field, policy, retention, function in specs:
        if policy == "compact()":
            configs = {"cleanup.policy": "compact"}
        elif function:
            configs = configs_of_function(source, function)
        else:
            configs = {"cleanup.policy": "delete", "retention.ms": str(evaluate(retention, defaults))}
        partitions = 1 if single_partition else defaults["partitions"]
        topics[names[field]] = (partitions, configs)
    return topics


def configs_of_function(source, function):
    """Return the configs that a function such as `reads_compaction` lists as literal pairs."""
    body = re.search(rf"fn {function}\(\)[^{{]*\{{(.*?)\n\}}", source, re.DOTALL)
    if not body:
        raise ShapeError(f"cannot find fn {function} in {KAFKA_SOURCE.name}")
    configs = dict(re.findall(r'\("([\w.]+)", "([^"]+)"\.to_string\(\)\)', body.group(1)))
    if "cleanup.policy" not in configs:
        raise ShapeError(f"fn {function} in {KAFKA_SOURCE.name} lists no literal cleanup.policy")
    return configs


def declared_topics():
    """Return {topic name: (partitions, {config key: value})} from the KafkaTopic manifest."""
    topics = {}
    for document in TOPICS_MANIFEST.read_text().split("\n---\n"):
        name = re.search(r"^  topicName: (\S+)$", document, re.MULTILINE)
        partitions = re.search(r"^  partitions: (\d+)$", document, re.MULTILINE)
        if not name or not partitions:
            raise ShapeError(f"a KafkaTopic in {TOPICS_MANIFEST} lacks spec.topicName or spec.partitions")
        configs = dict(re.findall(r"^    ([\w.]+): (\S+)$", document, re.MULTILINE))
        topics[name.group(1)] = (int(partitions.group(1)), configs)
    return topics


def main():
    try:
        expected, declared = expected_topics(), declared_topics()
    except (OSError, ShapeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    problems = []
    for name in sorted(expected.keys() | declared.keys()):
        if name not in declared:
            problems.append(f"{name}: created by alpr but not declared in {TOPICS_MANIFEST.name}")
        elif name not in expected:
            problems.append(f"{name}: declared in {TOPICS_MANIFEST.name} but not created by alpr")
        elif expected[name] != declared[name]:
            problems.append(f"{name}: alpr creates {expected[name]}, the manifest declares {declared[name]}")
    for problem in problems:
        print(f"ERROR    {problem}")
    print(f"{len(expected)} topics in {KAFKA_SOURCE.name}, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
