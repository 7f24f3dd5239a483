//! A local evaluation's matching as plain arrays: for every category × area range, the
//! detections in pycocotools' accumulate order with their image and, per IoU threshold,
//! whether each is a true positive, a false positive or ignored; and each image's count of
//! non-ignored ground truth.
//!
//! Matching does not depend on which images a bootstrap replicate draws, so it is read once
//! (from hotcoco's records, by `coco::bootstrap`) and then only reweighted (`stats::map`).
//! Only local COCO evaluations carry it: Roboflow's API has no per-detection data.

use std::fmt;

use super::Size;

/// Area ranges per category, in the order the slabs keep them: `all`, then [`Size::ALL`].
pub const AREA_RANGES: usize = 4;

/// The detections of one category in one area range, in accumulate order (score
/// descending, ties in image order, at most 100 per image).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slab {
    /// Each detection's image position. Detections ignored at every threshold are left out:
    /// they move neither count, so they change no precision or recall.
    pub image: Vec<u32>,
    /// Bit `t`: a true positive at IoU threshold `t`.
    pub matched: Vec<u64>,
    /// Bit `t`: counted (a true or false positive, not ignored) at threshold `t`.
    pub counted: Vec<u64>,
    /// `(image position, non-ignored ground truth)` for each image with any, by position.
    pub ground_truth: Vec<(u32, u32)>,
}

/// What a [`MatchedDetections`] is made of; [`MatchedDetections::from_parts`] checks it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MatchedParts {
    /// Ground-truth image ids, strictly ascending: the positions weights and slabs index.
    pub images: Vec<u64>,
    /// Each image's file name, in `images` order (empty where the ground truth has none);
    /// or no names at all.
    pub image_names: Vec<String>,
    /// Class names in category order, each once.
    pub classes: Vec<String>,
    /// The recall thresholds precision is read at (pycocotools: 101, from 0 to 1).
    pub rec_thrs: Vec<f64>,
    /// IoU thresholds (pycocotools: 10, 0.50 to 0.95), at most 64.
    pub thresholds: usize,
    /// The position of IoU 0.5 among them.
    pub t50: usize,
    /// The position of IoU 0.75.
    pub t75: usize,
    /// `slabs[class * AREA_RANGES + area]`, areas in [`AREA_RANGES`] order.
    pub slabs: Vec<Slab>,
}

/// Why parts do not make a matching.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the matching is not consistent: {0}")]
pub struct MatchedError(String);

/// One evaluation's matching, checked to be consistent: every position in range, every
/// detection's bits within the thresholds, a true positive always counted.
#[derive(Clone, PartialEq)]
pub struct MatchedDetections {
    parts: MatchedParts,
}

impl fmt::Debug for MatchedDetections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchedDetections")
            .field("images", &self.parts.images.len())
            .field("classes", &self.parts.classes.len())
            .finish_non_exhaustive()
    }
}

impl MatchedDetections {
    /// Checks `parts` and keeps them.
    pub fn from_parts(parts: MatchedParts) -> Result<MatchedDetections, MatchedError> {
        let bad = |m: String| Err(MatchedError(m));
        let p = &parts;
        if !p.images.windows(2).all(|w| w[0] < w[1]) {
            return bad("image ids are not strictly ascending".into());
        }
        let images = p.images.len();
        if u32::try_from(images).is_err() {
            return bad(format!("{images} images, more than 2^32"));
        }
        if !p.image_names.is_empty() && p.image_names.len() != images {
            return bad(format!(
                "{} image names for {images} images",
                p.image_names.len()
            ));
        }
        let mut names: Vec<&str> = p.classes.iter().map(String::as_str).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!("class {:?} is listed twice", w[0]));
        }
        if !(1..=64).contains(&p.thresholds) {
            return bad(format!(
                "{} IoU thresholds; from 1 to 64 are supported",
                p.thresholds
            ));
        }
        if p.t50 >= p.thresholds || p.t75 >= p.thresholds {
            return bad(format!(
                "IoU 0.5 at {} and 0.75 at {}, of {} thresholds",
                p.t50, p.t75, p.thresholds
            ));
        }
        if p.rec_thrs.is_empty()
            || !p.rec_thrs.iter().all(|r| (0.0..=1.0).contains(r))
            || !p.rec_thrs.windows(2).all(|w| w[0] <= w[1])
        {
            return bad("recall thresholds must be ascending, in [0, 1], and not none".into());
        }
        if p.slabs.len() != p.classes.len() * AREA_RANGES {
            return bad(format!(
                "{} slabs for {} classes × {AREA_RANGES} area ranges",
                p.slabs.len(),
                p.classes.len()
            ));
        }
        let bits = if p.thresholds == 64 {
            u64::MAX
        } else {
            (1 << p.thresholds) - 1
        };
        for (s, slab) in p.slabs.iter().enumerate() {
            let at = format!("class {} area {}", s / AREA_RANGES, s % AREA_RANGES);
            let n = slab.image.len();
            if slab.matched.len() != n || slab.counted.len() != n {
                return bad(format!(
                    "{at}: {n} images, {} match flags, {} count flags",
                    slab.matched.len(),
                    slab.counted.len()
                ));
            }
            if slab.image.iter().any(|&i| i as usize >= images) {
                return bad(format!(
                    "{at}: a detection on an image position out of range"
                ));
            }
            if let Some(d) = (0..n).find(|&d| {
                let (m, c) = (slab.matched[d], slab.counted[d]);
                c == 0 || c & !bits != 0 || m & !c != 0
            }) {
                return bad(format!(
                    "{at}: detection {d} is counted at no threshold, at one there is not, or matched where not counted"
                ));
            }
            if !slab.ground_truth.windows(2).all(|w| w[0].0 < w[1].0)
                || slab
                    .ground_truth
                    .iter()
                    .any(|&(i, k)| i as usize >= images || k == 0)
            {
                return bad(format!(
                    "{at}: ground-truth counts must be positive, by ascending image position in range"
                ));
            }
        }
        Ok(MatchedDetections { parts })
    }

    /// Images, as ground-truth image ids in ascending order: the positions weights index.
    pub fn images(&self) -> &[u64] {
        &self.parts.images
    }

    /// Each image's file name, in [`MatchedDetections::images`] order; empty when unknown.
    pub fn image_names(&self) -> &[String] {
        &self.parts.image_names
    }

    /// Class names, in category order: the positions a class is known by.
    pub fn classes(&self) -> &[String] {
        &self.parts.classes
    }

    /// The position of the class called `name`.
    pub fn class(&self, name: &str) -> Option<usize> {
        self.parts.classes.iter().position(|c| c == name)
    }

    /// The recall thresholds precision is read at.
    pub fn rec_thrs(&self) -> &[f64] {
        &self.parts.rec_thrs
    }

    /// How many IoU thresholds there are.
    pub fn thresholds(&self) -> usize {
        self.parts.thresholds
    }

    /// The positions of IoU 0.5 and 0.75 among the thresholds.
    pub fn t50_t75(&self) -> (usize, usize) {
        (self.parts.t50, self.parts.t75)
    }

    /// Every slab, `class * AREA_RANGES + area`.
    pub fn slabs(&self) -> &[Slab] {
        &self.parts.slabs
    }

    /// One class's detections in one area range (`None`: all sizes).
    ///
    /// # Panics
    /// If there is no class at `class`.
    pub fn slab(&self, class: usize, size: Option<Size>) -> &Slab {
        assert!(class < self.parts.classes.len(), "class {class}");
        &self.parts.slabs[class * AREA_RANGES + area_range(size)]
    }
}

/// The slab offset of an area range: `all` first, then [`Size::ALL`].
pub fn area_range(size: Option<Size>) -> usize {
    match size {
        None => 0,
        Some(Size::Small) => 1,
        Some(Size::Medium) => 2,
        Some(Size::Large) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> MatchedParts {
        MatchedParts {
            images: vec![3, 7],
            image_names: Vec::new(),
            classes: vec!["car".into()],
            rec_thrs: vec![0.0, 0.5, 1.0],
            thresholds: 2,
            t50: 0,
            t75: 1,
            slabs: vec![
                Slab {
                    image: vec![1, 0],
                    matched: vec![0b01, 0],
                    counted: vec![0b11, 0b11],
                    ground_truth: vec![(0, 1), (1, 2)],
                },
                Slab::default(),
                Slab::default(),
                Slab::default(),
            ],
        }
    }

    #[test]
    fn consistent_parts_make_a_matching() {
        let m = MatchedDetections::from_parts(parts()).unwrap();
        assert_eq!(
            (m.images(), m.class("car"), m.t50_t75()),
            (&[3, 7][..], Some(0), (0, 1))
        );
        assert_eq!(m.slab(0, None).image, [1, 0]);
        assert!(m.slab(0, Some(Size::Large)).image.is_empty());
    }

    #[test]
    fn inconsistent_parts_are_refused_saying_what_is_wrong() {
        let refused = |f: &dyn Fn(&mut MatchedParts), what: &str| {
            let mut p = parts();
            f(&mut p);
            let e = MatchedDetections::from_parts(p).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        };
        refused(&|p| p.images = vec![7, 3], "strictly ascending");
        refused(&|p| p.classes.push("car".into()), "\"car\" is listed twice");
        refused(
            &|p| p.image_names = vec!["a.jpg".into()],
            "1 image names for 2 images",
        );
        refused(&|p| p.thresholds = 65, "65 IoU thresholds");
        refused(&|p| p.t75 = 2, "0.75 at 2, of 2");
        refused(&|p| p.rec_thrs.clear(), "recall thresholds");
        refused(
            &|p| {
                p.slabs.pop();
            },
            "3 slabs for 1 classes",
        );
        refused(&|p| p.slabs[0].image[0] = 2, "out of range");
        refused(
            &|p| {
                p.slabs[0].matched.pop();
            },
            "1 match flags",
        );
        // Matched but not counted; a bit past the last threshold; counted nowhere.
        refused(&|p| p.slabs[0].counted[0] = 0b10, "detection 0");
        refused(&|p| p.slabs[0].counted[1] = 0b111, "detection 1");
        refused(&|p| p.slabs[0].counted[1] = 0, "detection 1");
        refused(
            &|p| p.slabs[0].ground_truth[1] = (0, 2),
            "ground-truth counts",
        );
        refused(
            &|p| p.slabs[0].ground_truth[0] = (0, 0),
            "ground-truth counts",
        );
    }
}
