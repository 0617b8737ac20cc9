//! Imports the sample files into a real broker: the local one started by
//! `deploy/local/kafka.sh start`, or the one `ALPR_KAFKA_BOOTSTRAP` names. Each test works on
//! topics under its own fresh prefix.

use std::collections::HashMap;
use std::path::PathBuf;

use alpr_hotlist::{
    import_file, parse_file, remove_list, ImportError, ImportOptions, ImportSummary,
};
use alpr_platform::testkit::{fresh_settings, read_topic, TestRecord};
use alpr_platform::KafkaSettings;
use alpr_schemas::{HotlistEntry, HotlistImport};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Returns the latest value of each entry key on the hotlist topic, `None` for a tombstone.
/// Import records are left out.
async fn latest_by_key(settings: &KafkaSettings) -> HashMap<String, Option<HotlistEntry>> {
    let records: Vec<TestRecord> = read_topic(settings, &settings.topics().hotlist).await;
    let mut latest = HashMap::new();
    for record in records {
        let key = String::from_utf8(record.key.expect("hotlist record has a key"))
            .expect("hotlist key is UTF-8");
        if HotlistImport::list_of_key(&key).is_some() {
            continue;
        }
        let value = record
            .payload
            .map(|payload| alpr_schemas::decode::<HotlistEntry>(&payload).expect("entry decodes"));
        latest.insert(key, value);
    }
    latest
}

/// Returns the latest import record of `list`: `None` when there is none, `Some(None)` when it
/// was removed.
async fn import_record(settings: &KafkaSettings, list: &str) -> Option<Option<HotlistImport>> {
    let key = HotlistImport::key(list);
    read_topic(settings, &settings.topics().hotlist)
        .await
        .into_iter()
        .rfind(|record| record.key.as_deref() == Some(key.as_bytes()))
        .map(|record| {
            record.payload.map(|payload| {
                alpr_schemas::decode::<HotlistImport>(&payload).expect("import decodes")
            })
        })
}

/// Imports the agency CSV as `SPD-LOCAL` and the NCIC file as `WA-STATE`, and returns the
/// agency list's options.
async fn import_agency_and_state_lists(settings: &KafkaSettings) -> ImportOptions {
    let agency = ImportOptions {
        agency_id: Some("WA0340000".into()),
        ..ImportOptions::new("SPD-LOCAL")
    };
    import_file(settings, &sample("agency_full.csv"), &agency)
        .await
        .expect("agency import");
    import_file(
        settings,
        &sample("wa_state_full.txt"),
        &ImportOptions::new("WA-STATE"),
    )
    .await
    .expect("state import");
    agency
}

fn live_entries(latest: &HashMap<String, Option<HotlistEntry>>) -> HashMap<String, HotlistEntry> {
    latest
        .iter()
        .filter_map(|(key, value)| value.clone().map(|entry| (key.clone(), entry)))
        .collect()
}

fn summary(
    list: &str,
    parsed: usize,
    published: usize,
    unchanged: usize,
    removed: usize,
) -> ImportSummary {
    ImportSummary {
        list: list.to_string(),
        parsed,
        published,
        unchanged,
        removed,
    }
}

/// The update leaves exactly its own entries live on the topic, and tombstones the two records
/// it dropped.
#[tokio::test]
async fn update_replaces_ncic_list() {
    let settings = fresh_settings("hotlist_ncic").await;
    let options = ImportOptions::new("WA-STATE");
    let full_path = sample("wa_state_full.txt");
    let update_path = sample("wa_state_update.txt");

    let first = import_file(&settings, &full_path, &options)
        .await
        .expect("full import");
    assert_eq!(first, summary("WA-STATE", 8, 8, 0, 0));
    let second = import_file(&settings, &update_path, &options)
        .await
        .expect("update import");
    assert_eq!(second, summary("WA-STATE", 6, 1, 5, 2));

    let latest = latest_by_key(&settings).await;
    let expected: HashMap<String, HotlistEntry> = parse_file(&update_path, &options)
        .expect("update parses")
        .into_iter()
        .map(|entry| (entry.entry_id.clone(), entry))
        .collect();
    assert_eq!(live_entries(&latest), expected);

    let full = parse_file(&full_path, &options).expect("full file parses");
    let tombstoned: Vec<&str> = full
        .iter()
        .filter(|entry| matches!(latest.get(&entry.entry_id), Some(None)))
        .filter_map(|entry| entry.source_record_id.as_deref())
        .collect();
    assert_eq!(tombstoned, vec!["M240012501", "B240012859"]);
    assert_eq!(
        latest.len(),
        8,
        "every key of the full file is on the topic"
    );
}

/// A repeat of the same file publishes no entry, only a newer import record, because the list
/// was confirmed current at that time.
#[tokio::test]
async fn same_file_again_publishes_only_its_import_record() {
    let settings = fresh_settings("hotlist_repeat").await;
    let options = ImportOptions::new("WA-STATE");
    let path = sample("wa_state_full.txt");

    import_file(&settings, &path, &options)
        .await
        .expect("first import");
    let records_after_first = read_topic(&settings, &settings.topics().hotlist)
        .await
        .len();
    let first_import = import_record(&settings, "WA-STATE")
        .await
        .flatten()
        .expect("first import record");
    assert_eq!(first_import.entry_count, 8);
    assert_eq!(first_import.source.as_deref(), Some("wa_state_full.txt"));
    let repeat = import_file(&settings, &path, &options)
        .await
        .expect("repeat import");

    assert_eq!(repeat, summary("WA-STATE", 8, 0, 8, 0));
    let records_after_repeat = read_topic(&settings, &settings.topics().hotlist)
        .await
        .len();
    assert_eq!(records_after_repeat, records_after_first + 1);
    let repeat_import = import_record(&settings, "WA-STATE")
        .await
        .flatten()
        .expect("repeat import record");
    assert!(repeat_import.imported_at > first_import.imported_at);
}

/// Removing a list tombstones each of its entries and its import record, and nothing else.
#[tokio::test]
async fn removing_a_list_tombstones_only_that_list() {
    let settings = fresh_settings("hotlist_remove").await;
    import_agency_and_state_lists(&settings).await;

    let removed = remove_list(&settings, "SPD-LOCAL")
        .await
        .expect("remove list");
    assert_eq!(removed, 8);

    let latest = latest_by_key(&settings).await;
    let live = live_entries(&latest);
    assert!(live.values().all(|entry| entry.list == "WA-STATE"));
    assert_eq!(live.len(), 8);
    assert_eq!(latest.values().filter(|value| value.is_none()).count(), 8);
    assert_eq!(import_record(&settings, "SPD-LOCAL").await, Some(None));
    assert!(matches!(
        import_record(&settings, "WA-STATE").await,
        Some(Some(_))
    ));

    let error = remove_list(&settings, "SPD-LOCLA")
        .await
        .expect_err("unknown list");
    assert!(matches!(error, ImportError::UnknownList { ref list } if list == "SPD-LOCLA"));
    assert!(error.to_string().contains("SPD-LOCLA"), "{error}");
}

/// Importing one list never touches the entries of another list on the same topic.
#[tokio::test]
async fn other_lists_are_left_alone() {
    let settings = fresh_settings("hotlist_lists").await;
    let agency = import_agency_and_state_lists(&settings).await;
    let update = import_file(&settings, &sample("agency_update.csv"), &agency)
        .await
        .expect("agency update");
    assert_eq!(update, summary("SPD-LOCAL", 6, 1, 5, 2));

    let live = live_entries(&latest_by_key(&settings).await);
    let count_of = |list: &str| live.values().filter(|entry| entry.list == list).count();
    assert_eq!(count_of("WA-STATE"), 8);
    assert_eq!(count_of("SPD-LOCAL"), 6);
}

/// A rejected file publishes nothing, even when most of its lines are good.
#[tokio::test]
async fn rejected_file_publishes_nothing() {
    let settings = fresh_settings("hotlist_rejected").await;
    let options = ImportOptions::new("WA-STATE");
    import_file(&settings, &sample("wa_state_full.txt"), &options)
        .await
        .expect("full import");
    let records_before = read_topic(&settings, &settings.topics().hotlist)
        .await
        .len();

    let full = std::fs::read_to_string(sample("wa_state_full.txt")).expect("read sample");
    let broken = full.replacen("20240115", "20241345", 1);
    let directory = std::env::temp_dir().join(format!("alpr-hotlist-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("create temp dir");
    let broken_path = directory.join("broken.txt");
    std::fs::write(&broken_path, broken).expect("write broken file");

    let error = import_file(&settings, &broken_path, &options)
        .await
        .expect_err("bad date rejects the file");
    std::fs::remove_dir_all(&directory).ok();

    assert_eq!(error.line_errors().len(), 1, "{error}");
    assert_eq!(error.line_errors()[0].field, "entry date");
    let records_after = read_topic(&settings, &settings.topics().hotlist)
        .await
        .len();
    assert_eq!(records_after, records_before);
}
