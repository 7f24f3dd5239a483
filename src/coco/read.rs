//! Reading COCO ground truth and results with pycocotools' tolerance, and refusing on purpose
//! what pycocotools would evaluate into a wrong number.
//!
//! evalgate reads the files itself rather than through hotcoco's reader: Roboflow's export
//! writes `info.year` as a string, which hotcoco refuses, and a record that is refused must be
//! named by its index in the file. Only the fields evaluation reads are kept; everything else
//! (`info`, `licenses`, unknown keys) is skipped unread.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;

use hotcoco::{Annotation, Category, Dataset, Image, Segmentation};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{CocoError, IouType};

/// Where a parse error happened: the array and the index of the record being read.
#[derive(Default)]
struct Tracker {
    at: Cell<Option<(&'static str, usize)>>,
}

impl Tracker {
    fn describe(&self) -> String {
        match self.at.get() {
            Some(("", i)) => format!("result {i}"),
            Some((section, i)) => format!("{section}[{i}]"),
            None => String::new(),
        }
    }
}

/// A JSON array read record by record, noting in the tracker which one is being read, so
/// that an error names the record as well as its line and column.
struct Records<'t, T> {
    tracker: &'t Tracker,
    section: &'static str,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Records<'_, T> {
    type Value = Vec<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Records<'_, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        loop {
            self.tracker.at.set(Some((self.section, out.len())));
            match seq.next_element()? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        self.tracker.at.set(None);
        Ok(out)
    }
}

/// A JSON array whose records are handed to `sink` as they are read, so that a large results
/// file is never held twice (raw and converted). The sink's refusal becomes a parse error
/// at the record, with its line and column.
struct Stream<'t, T, F> {
    tracker: &'t Tracker,
    sink: F,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>, F: FnMut(usize, T) -> Result<(), String>> DeserializeSeed<'de>
    for Stream<'_, T, F>
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(usize, T) -> Result<(), String>> Visitor<'de>
    for Stream<'_, T, F>
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of detections")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.tracker.at.set(Some(("", i)));
            match seq.next_element()? {
                Some(v) => (self.sink)(i, v).map_err(de::Error::custom)?,
                None => break,
            }
            i += 1;
        }
        self.tracker.at.set(None);
        Ok(())
    }
}

/// A non-negative integer id; an integral float (`1.0`, as pandas writes it) is the same id,
/// as it is to pycocotools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Id(pub(super) u64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                u64::try_from(v)
                    .map(Id)
                    .map_err(|_| E::custom(format!("id {v} is negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
                hotcoco::types::id_from_f64(v)
                    .map(Id)
                    .ok_or_else(|| E::custom(format!("id {v} is not a non-negative integer")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                Err(E::custom(format!(
                    "id {v:?} is a string; COCO ids are integers (name images by number, as the ground truth does)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// `iscrowd`: `0`/`1`, `true`/`false`, or an integral float.
#[derive(Clone, Copy, Default)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0, 1, true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Flag, E> {
                if v.fract() == 0.0 {
                    Ok(Flag(v != 0.0))
                } else {
                    Err(E::custom(format!("iscrowd {v} is not 0 or 1")))
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct RawImage {
    id: Id,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    width: Option<u32>,
    /// Only to name images in reports: a file name that is not a string is no error.
    #[serde(default)]
    file_name: Option<FileName>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FileName {
    Text(String),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct RawCategory {
    id: Id,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawGtAnnotation {
    image_id: Id,
    category_id: Id,
    #[serde(default)]
    bbox: Option<Vec<f64>>,
    #[serde(default)]
    area: Option<f64>,
    #[serde(default)]
    iscrowd: Option<Flag>,
    #[serde(default)]
    segmentation: Option<Segmentation>,
}

#[derive(Deserialize)]
struct RawResult {
    image_id: Id,
    category_id: Id,
    #[serde(default)]
    bbox: Option<Vec<f64>>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    segmentation: Option<Segmentation>,
}

struct RawGt {
    images: Vec<RawImage>,
    categories: Vec<RawCategory>,
    annotations: Vec<RawGtAnnotation>,
}

struct GtSeed<'t>(&'t Tracker);

impl<'de> DeserializeSeed<'de> for GtSeed<'_> {
    type Value = RawGt;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawGt, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GtSeed<'_> {
    type Value = RawGt;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a COCO dataset object with images, annotations and categories")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawGt, A::Error> {
        let (mut images, mut categories, mut annotations) = (None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let twice = || de::Error::custom(format!("{key:?} is given twice"));
            match &*key {
                "images" => {
                    if images.is_some() {
                        return Err(twice());
                    }
                    images = Some(map.next_value_seed(records(self.0, "images"))?);
                }
                "categories" => {
                    if categories.is_some() {
                        return Err(twice());
                    }
                    categories = Some(map.next_value_seed(records(self.0, "categories"))?);
                }
                "annotations" => {
                    if annotations.is_some() {
                        return Err(twice());
                    }
                    annotations = Some(map.next_value_seed(records(self.0, "annotations"))?);
                }
                // `info` (Roboflow writes its year as a string), `licenses`, anything else.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawGt {
            images: images.unwrap_or_default(),
            categories: categories.unwrap_or_default(),
            annotations: annotations.unwrap_or_default(),
        })
    }
}

fn records<'t, T>(tracker: &'t Tracker, section: &'static str) -> Records<'t, T> {
    Records {
        tracker,
        section,
        _t: PhantomData,
    }
}

/// A serde_json error as "where: what": the record being read, then line and column.
fn json_error(name: &str, tracker: &Tracker, e: &serde_json::Error) -> CocoError {
    let text = e.to_string();
    // serde_json ends its messages with " at line L column C"; say it once, our way.
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(w, _)| w);
    let record = tracker.describe();
    let record = if record.is_empty() {
        String::new()
    } else {
        format!("{record}, ")
    };
    CocoError::Input {
        file: name.to_owned(),
        at: format!("{record}line {}, column {}", e.line(), e.column()),
        message: format!("{what}{}", hint_for(what)),
    }
}

fn hint_for(what: &str) -> &'static str {
    if what.starts_with("expected value") {
        " (not JSON here; NaN and Infinity are not JSON numbers: write the file with allow_nan=False and repair what it refuses)"
    } else {
        ""
    }
}

/// The ground truth, ready for hotcoco, and what evalgate needs to report on it.
#[derive(Default)]
pub(super) struct GroundTruth {
    /// Taken by the caller once read; the images' sizes are then looked up in the `COCO`.
    pub(super) dataset: Dataset,
    /// Position of each image id in `dataset.images`.
    pub(super) images: HashMap<u64, usize>,
    pub(super) categories: HashSet<u64>,
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

pub(super) fn ground_truth(
    name: &str,
    bytes: &[u8],
    iou: IouType,
) -> Result<GroundTruth, CocoError> {
    let tracker = Tracker::default();
    let mut de = serde_json::Deserializer::from_slice(strip_bom(bytes));
    let raw = GtSeed(&tracker)
        .deserialize(&mut de)
        .and_then(|raw| de.end().map(|()| raw))
        .map_err(|e| json_error(name, &tracker, &e))?;
    let bad = |at: String, message: String| CocoError::Input {
        file: name.to_owned(),
        at,
        message,
    };

    let mut images = HashMap::with_capacity(raw.images.len());
    let mut dataset_images = Vec::with_capacity(raw.images.len());
    for (i, img) in raw.images.into_iter().enumerate() {
        if let Some(first) = images.insert(img.id.0, i) {
            return Err(bad(
                format!("images[{i}]"),
                format!(
                    "image id {} is also images[{first}]; every image needs its own id",
                    img.id.0
                ),
            ));
        }
        dataset_images.push(Image {
            id: img.id.0,
            height: img.height.unwrap_or(0),
            width: img.width.unwrap_or(0),
            // Per-image outcomes and evidence name images by it.
            file_name: match img.file_name {
                Some(FileName::Text(name)) => name,
                _ => String::new(),
            },
            ..Image::default()
        });
    }

    let mut categories = HashSet::with_capacity(raw.categories.len());
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut dataset_categories = Vec::with_capacity(raw.categories.len());
    for (i, cat) in raw.categories.into_iter().enumerate() {
        let at = format!("categories[{i}]");
        if !categories.insert(cat.id.0) {
            return Err(bad(at, format!("category id {} is given twice", cat.id.0)));
        }
        let Some(cat_name) = cat.name.filter(|n| !n.is_empty()) else {
            return Err(bad(
                at,
                format!(
                    "category {} has no name; evalgate reports classes by name",
                    cat.id.0
                ),
            ));
        };
        if let Some(first) = names.insert(cat_name.clone(), i) {
            return Err(bad(
                at,
                format!(
                    "the name {cat_name:?} is also categories[{first}]'s; classes are reported by name, so each needs its own"
                ),
            ));
        }
        dataset_categories.push(Category {
            id: cat.id.0,
            name: cat_name,
            ..Category::default()
        });
    }

    let mut annotations = Vec::with_capacity(raw.annotations.len());
    for (i, ann) in raw.annotations.into_iter().enumerate() {
        let at = || format!("annotations[{i}]");
        let Some(&img) = images.get(&ann.image_id.0) else {
            return Err(bad(
                at(),
                format!("image_id {} is not among the images", ann.image_id.0),
            ));
        };
        if !categories.contains(&ann.category_id.0) {
            return Err(bad(
                at(),
                format!(
                    "category_id {} is not among the categories",
                    ann.category_id.0
                ),
            ));
        }
        let bbox = ann
            .bbox
            .as_deref()
            .map(|b| checked_box(b, false))
            .transpose()
            .map_err(|why| bad(at(), why))?;
        if iou == IouType::Bbox && bbox.is_none() {
            return Err(bad(
                at(),
                "has no bbox; --iou-type bbox needs one on every annotation".to_owned(),
            ));
        }
        if let Some(area) = ann.area
            && (!area.is_finite() || area < 0.0)
        {
            return Err(bad(
                at(),
                format!("area {area} is not a size; it must be a finite number ≥ 0"),
            ));
        }
        let segmentation = match iou {
            IouType::Segm => {
                let image = &dataset_images[img];
                Some(checked_mask(ann.segmentation, image).map_err(|why| bad(at(), why))?)
            }
            // Box evaluation never reads a mask (pycocotools neither).
            IouType::Bbox => None,
        };
        annotations.push(Annotation {
            // Ids are ours: position + 1. The file's may repeat or be 0 (Roboflow numbers
            // from 0), and nothing but identity depends on them.
            id: i as u64 + 1,
            image_id: ann.image_id.0,
            category_id: ann.category_id.0,
            bbox,
            area: ann.area,
            segmentation,
            iscrowd: ann.iscrowd.unwrap_or_default().0,
            ..Annotation::default()
        });
    }
    Ok(GroundTruth {
        dataset: Dataset {
            images: dataset_images,
            annotations,
            categories: dataset_categories,
            ..Dataset::default()
        },
        images,
        categories,
    })
}

/// `[x, y, w, h]` with finite values and a size ≥ 0. `result` only changes the wording.
fn checked_box(b: &[f64], result: bool) -> Result<[f64; 4], String> {
    let Ok(b) = <[f64; 4]>::try_from(b) else {
        return Err(format!(
            "bbox has {} numbers; a COCO box is [x, y, width, height]",
            b.len()
        ));
    };
    if let Some(v) = b.iter().find(|v| !v.is_finite()) {
        return Err(format!("bbox holds {v}; every coordinate must be finite"));
    }
    if b[2] < 0.0 || b[3] < 0.0 {
        let whose = if result {
            "the detection"
        } else {
            "the object"
        };
        return Err(format!(
            "bbox {b:?} has a negative size; {whose} needs width and height ≥ 0 (pycocotools would evaluate it silently)"
        ));
    }
    Ok(b)
}

/// A mask as pycocotools' `annToRLE` reads it: an RLE, or polygons whose first one decides
/// how all are read (exactly 4 numbers: boxes `[x, y, w, h]`; more: polygons; fewer: an
/// error, "input type is not supported").
fn checked_mask(seg: Option<Segmentation>, image: &Image) -> Result<Segmentation, String> {
    let Some(seg) = seg else {
        return Err("has no segmentation; --iou-type segm needs a mask on every record".to_owned());
    };
    let Segmentation::Polygon(polys) = seg else {
        return Ok(seg);
    };
    if image.height == 0 || image.width == 0 {
        return Err(format!(
            "is a polygon on image {}, which has no height and width to draw it on; add them to the image",
            image.id
        ));
    }
    let Some(first) = polys.first() else {
        return Err("segmentation is an empty list; --iou-type segm needs a polygon or an RLE mask (a box-only dataset is evaluated with --iou-type bbox)".to_owned());
    };
    if first.len() == 4 {
        let boxes: Result<Vec<Vec<f64>>, String> = polys
            .iter()
            .map(|p| match <[f64; 4]>::try_from(p.as_slice()) {
                Ok(b) => Ok(Segmentation::rect_corners(&b).to_vec()),
                Err(_) => Err(format!(
                    "segmentation mixes a 4-number box with a polygon of {} numbers",
                    p.len()
                )),
            })
            .collect();
        return Ok(Segmentation::Polygon(boxes?));
    }
    for (j, p) in polys.iter().enumerate() {
        if p.len() < 6 || p.len() % 2 == 1 {
            return Err(format!(
                "segmentation polygon {j} has {} coordinates; a polygon is at least 3 points, x and y each",
                p.len()
            ));
        }
        if let Some(v) = p.iter().find(|v| !v.is_finite()) {
            return Err(format!(
                "segmentation polygon {j} holds {v}; every coordinate must be finite"
            ));
        }
    }
    Ok(Segmentation::Polygon(polys))
}

/// The results, checked against the ground truth, as hotcoco's `load_res_anns` takes them.
pub(super) fn results(
    name: &str,
    bytes: &[u8],
    gt: &GroundTruth,
    coco: &hotcoco::COCO,
    iou: IouType,
) -> Result<Vec<Annotation>, CocoError> {
    let tracker = Tracker::default();
    let mut de = serde_json::Deserializer::from_slice(strip_bom(bytes));
    // Sized once: a list grown by doubling holds up to twice the records at its last step
    // (about 100 MB more on COCO val). Each detection opens one object, or two with an RLE.
    let mut out = Vec::with_capacity(bytes.iter().filter(|&&b| b == b'{').count());
    // pycocotools' loadRes decides from the first record whether the file holds boxes or
    // masks, and reads every record the same way.
    let mut boxes = false;
    let sink = |i: usize, r: RawResult| -> Result<(), String> {
        if i == 0 {
            boxes = r.bbox.as_ref().is_some_and(|b| !b.is_empty());
        }
        out.push(result(r, gt, coco, iou, boxes)?);
        Ok(())
    };
    Stream {
        tracker: &tracker,
        sink,
        _t: PhantomData,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| {
        let mut err = json_error(name, &tracker, &e);
        if let CocoError::Input { message, .. } = &mut err
            && message.starts_with("invalid type: map")
            && tracker.describe().is_empty()
        {
            message.push_str(
                "; a results file is a JSON array of detections (pycocotools' loadRes format)",
            );
        }
        err
    })?;
    out.shrink_to_fit();
    Ok(out)
}

fn result(
    r: RawResult,
    gt: &GroundTruth,
    coco: &hotcoco::COCO,
    iou: IouType,
    boxes: bool,
) -> Result<Annotation, String> {
    let Some(&img) = gt.images.get(&r.image_id.0) else {
        return Err(format!(
            "image_id {} is not in the ground truth (pycocotools stops here too); are these predictions for another split?",
            r.image_id.0
        ));
    };
    if !gt.categories.contains(&r.category_id.0) {
        return Err(format!(
            "category_id {} is not a category of the ground truth; pycocotools would drop the detection silently, evalgate refuses it (map the model's class ids to the dataset's)",
            r.category_id.0
        ));
    }
    let score = match r.score {
        Some(s) if s.is_finite() => s,
        Some(s) => return Err(format!("score {s} is not a finite number")),
        None => return Err("the detection has no score".to_owned()),
    };
    let bbox = if boxes {
        match r.bbox.as_deref() {
            Some(b) => Some(checked_box(b, true)?),
            None => {
                return Err(
                    "the detection has no bbox, but result 0 has one: a results file holds boxes on every record or on none"
                        .to_owned(),
                );
            }
        }
    } else {
        // A mask file: the box comes from the mask, as in pycocotools.
        None
    };
    let segmentation = match (&r.segmentation, iou, boxes) {
        (None, _, true) => None,
        (None, _, false) => {
            return Err("the detection has neither a bbox nor a segmentation".to_owned());
        }
        (Some(_), IouType::Bbox, true) => None,
        (Some(Segmentation::CompressedRle { .. }), _, false) => r.segmentation,
        (Some(_), _, false) => {
            return Err(
                "the detection has a segmentation but no bbox, and the segmentation is not a compressed RLE ({\"size\": [h, w], \"counts\": \"...\"}); pycocotools reads masks without boxes only from RLE"
                    .to_owned(),
            );
        }
        (Some(_), IouType::Segm, true) => {
            Some(checked_mask(r.segmentation, &coco.dataset.images[img])?)
        }
    };
    Ok(Annotation {
        image_id: r.image_id.0,
        category_id: r.category_id.0,
        bbox,
        score: Some(score),
        segmentation,
        ..Annotation::default()
    })
}
