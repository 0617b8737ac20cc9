//! Plate normalisation and the Avro codec of a CameraRead, the per-read work of ingest and the
//! matcher.

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use alpr_schemas::plate::normalise_read_plate;
use alpr_schemas::{
    decode, encode, CameraRead, Location, PlateRead, VehicleAttribute, VehicleRead,
};

fn sample_read() -> CameraRead {
    CameraRead {
        read_id: "0190f5a2-8c1e-7d3a-9b4e-2f6a1c3d5e7f".into(),
        camera_id: "cam-17".into(),
        organisation_id: "spd".into(),
        captured_at: 1_633_100_000_123_456,
        received_at: 1_633_100_000_223_456,
        location: Some(Location {
            latitude: 47.6062,
            longitude: -122.3321,
            heading: Some(270.0),
        }),
        plate: PlateRead {
            present: true,
            text: "7abc-123".into(),
            normalised: "7ABC123".into(),
            region: Some("US-WA".into()),
            confidence: Some(0.875),
            unreadable_positions: vec![],
        },
        vehicle: VehicleRead {
            make: Some(VehicleAttribute {
                value: "Toyota".into(),
                confidence: Some(0.5),
            }),
            ..VehicleRead::default()
        },
        image_ref: None,
        source: "http-json".into(),
    }
}

fn plate_normalisation(criterion: &mut Criterion) {
    criterion.bench_function("normalise_read_plate", |bench| {
        bench.iter(|| normalise_read_plate(black_box("7abc - 123")))
    });
}

fn camera_read_codec(criterion: &mut Criterion) {
    let read = sample_read();
    let bytes = encode(&read).expect("sample read encodes");
    criterion.bench_function("camera_read_encode", |bench| {
        bench.iter(|| encode(black_box(&read)))
    });
    criterion.bench_function("camera_read_decode", |bench| {
        bench.iter(|| decode::<CameraRead>(black_box(&bytes)))
    });
}

criterion_group!(benches, plate_normalisation, camera_read_codec);
criterion_main!(benches);
