//! Tantivy collectors of the search: a page of reads in time order, and per-plate totals.
//!
//! Both run on the documents the query matched, and the query always contains the scope clause,
//! so they never see a read outside the caller's scope. They apply the exact circle or polygon
//! check to the reads inside the query's bounding box, reading positions from fast fields.

use std::collections::{BinaryHeap, HashMap};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::geo::{distance_metres, polygon_contains, Point};
use crate::index::field_names;

/// The exact place check that follows the bounding-box clauses of a query.
#[derive(Debug, Clone)]
pub(crate) enum ExactPlace {
    Circle { centre: Point, radius_metres: f64 },
    Polygon(Vec<Point>),
}

impl ExactPlace {
    fn contains(&self, point: Point) -> bool {
        match self {
            Self::Circle {
                centre,
                radius_metres,
            } => distance_metres(*centre, point) <= *radius_metres,
            Self::Polygon(vertices) => polygon_contains(vertices, point),
        }
    }
}

/// Reads the position columns of a segment and applies an [`ExactPlace`].
struct PlaceCheck {
    place: ExactPlace,
    latitude: Column<f64>,
    longitude: Column<f64>,
}

impl PlaceCheck {
    fn open(place: &Option<ExactPlace>, segment: &SegmentReader) -> tantivy::Result<Option<Self>> {
        let Some(place) = place else {
            return Ok(None);
        };
        let fast_fields = segment.fast_fields();
        Ok(Some(Self {
            place: place.clone(),
            latitude: fast_fields.f64(field_names::LATITUDE)?,
            longitude: fast_fields.f64(field_names::LONGITUDE)?,
        }))
    }

    fn contains(&self, doc: DocId) -> bool {
        match (self.latitude.first(doc), self.longitude.first(doc)) {
            (Some(latitude), Some(longitude)) => self.place.contains(Point {
                latitude,
                longitude,
            }),
            _ => false,
        }
    }
}

/// Sort key of a read: capture time, then the order key that separates reads of the same
/// microsecond.
pub(crate) type ReadKey = (i64, u64);

/// Collects the first `limit` reads after `after` in (captured_at, order key) order, and counts
/// every read that matched.
pub(crate) struct PageCollector {
    pub after: Option<ReadKey>,
    pub limit: usize,
    pub place: Option<ExactPlace>,
}

/// Matching reads of one segment or of the whole index: their count and the first ones in order.
pub(crate) struct Page {
    pub total: u64,
    pub first: Vec<(ReadKey, DocAddress)>,
}

pub(crate) struct PageSegmentCollector {
    segment: SegmentOrdinal,
    after: Option<ReadKey>,
    limit: usize,
    place: Option<PlaceCheck>,
    captured_at: Column<i64>,
    order_key: Column<u64>,
    total: u64,
    /// Max-heap of the smallest keys seen, at most `limit` of them.
    heap: BinaryHeap<(ReadKey, DocId)>,
}

impl Collector for PageCollector {
    type Fruit = Page;
    type Child = PageSegmentCollector;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PageSegmentCollector> {
        let fast_fields = reader.fast_fields();
        Ok(PageSegmentCollector {
            segment,
            after: self.after,
            limit: self.limit,
            place: PlaceCheck::open(&self.place, reader)?,
            captured_at: fast_fields.i64(field_names::CAPTURED_AT)?,
            order_key: fast_fields.u64(field_names::ORDER_KEY)?,
            total: 0,
            heap: BinaryHeap::with_capacity(self.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Page>) -> tantivy::Result<Page> {
        let mut total = 0;
        let mut first = Vec::new();
        for fruit in fruits {
            total += fruit.total;
            first.extend(fruit.first);
        }
        first.sort_unstable_by_key(|(key, _)| *key);
        first.truncate(self.limit);
        Ok(Page { total, first })
    }
}

impl SegmentCollector for PageSegmentCollector {
    type Fruit = Page;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(place) = &self.place {
            if !place.contains(doc) {
                return;
            }
        }
        self.total += 1;
        // Every indexed read has both values; a document without them is not a read.
        let (Some(captured_at), Some(order_key)) =
            (self.captured_at.first(doc), self.order_key.first(doc))
        else {
            return;
        };
        let key = (captured_at, order_key);
        if self.after.is_some_and(|after| key <= after) {
            return;
        }
        if self.heap.len() < self.limit {
            self.heap.push((key, doc));
        } else if self.heap.peek().is_some_and(|(largest, _)| key < *largest) {
            self.heap.pop();
            self.heap.push((key, doc));
        }
    }

    fn harvest(self) -> Page {
        let segment = self.segment;
        Page {
            total: self.total,
            first: self
                .heap
                .into_iter()
                .map(|(key, doc)| (key, DocAddress::new(segment, doc)))
                .collect(),
        }
    }
}

/// Reads of one plate: how many, and the first and last capture times in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlateTally {
    pub reads: u64,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl PlateTally {
    fn add(&mut self, other: PlateTally) {
        self.reads += other.reads;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// Tallies matching reads per distinct plate. Reads without a plate are not counted.
pub(crate) struct PlateCollector {
    pub place: Option<ExactPlace>,
}

pub(crate) struct PlateSegmentCollector {
    place: Option<PlaceCheck>,
    plates: Option<StrColumn>,
    captured_at: Column<i64>,
    /// Tallies by term ordinal of the segment's plate dictionary, resolved to text at harvest.
    tallies: HashMap<u64, PlateTally>,
}

/// Tallies of one segment, and how many plate ordinals failed to resolve to text.
pub(crate) struct SegmentTallies {
    tallies: HashMap<String, PlateTally>,
    unresolved: u64,
}

impl Collector for PlateCollector {
    type Fruit = HashMap<String, PlateTally>;
    type Child = PlateSegmentCollector;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PlateSegmentCollector> {
        let fast_fields = reader.fast_fields();
        Ok(PlateSegmentCollector {
            place: PlaceCheck::open(&self.place, reader)?,
            plates: fast_fields.str(field_names::PLATE)?,
            captured_at: fast_fields.i64(field_names::CAPTURED_AT)?,
            tallies: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<SegmentTallies>,
    ) -> tantivy::Result<HashMap<String, PlateTally>> {
        let mut merged: HashMap<String, PlateTally> = HashMap::new();
        for fruit in fruits {
            if fruit.unresolved > 0 {
                return Err(tantivy::TantivyError::InternalError(format!(
                    "{} plate ordinals of a segment did not resolve to text",
                    fruit.unresolved
                )));
            }
            for (plate, tally) in fruit.tallies {
                merged
                    .entry(plate)
                    .and_modify(|existing| existing.add(tally))
                    .or_insert(tally);
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for PlateSegmentCollector {
    type Fruit = SegmentTallies;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(place) = &self.place {
            if !place.contains(doc) {
                return;
            }
        }
        let Some(plates) = &self.plates else {
            return;
        };
        let (Some(ordinal), Some(captured_at)) =
            (plates.term_ords(doc).next(), self.captured_at.first(doc))
        else {
            return;
        };
        let tally = PlateTally {
            reads: 1,
            first_seen: captured_at,
            last_seen: captured_at,
        };
        self.tallies
            .entry(ordinal)
            .and_modify(|existing| existing.add(tally))
            .or_insert(tally);
    }

    fn harvest(self) -> SegmentTallies {
        let mut resolved = SegmentTallies {
            tallies: HashMap::with_capacity(self.tallies.len()),
            unresolved: 0,
        };
        let Some(plates) = &self.plates else {
            return resolved;
        };
        for (ordinal, tally) in self.tallies {
            let mut plate = String::new();
            // Every ordinal comes from this column's own dictionary, so only an I/O error of
            // the memory-mapped dictionary fails here. The merge turns it into an error.
            match plates.ord_to_str(ordinal, &mut plate) {
                Ok(true) => {
                    resolved.tallies.insert(plate, tally);
                }
                _ => resolved.unresolved += 1,
            }
        }
        resolved
    }
}
