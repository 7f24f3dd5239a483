//! Per-image counts of one eval, and of two evals paired image by image.

/// True positives, false positives and false negatives of one class (or of the split) on one
/// image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Counts {
    /// True positives.
    pub tp: u32,
    /// False positives.
    pub fp: u32,
    /// False negatives.
    pub fn_: u32,
}

impl Counts {
    fn is_zero(self) -> bool {
        self == Counts::default()
    }
}

/// Why counts could not be used: their shapes do not fit together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The per-class cells are not `images × classes`.
    #[error(
        "{cells} per-class counts for {images} images × {classes} classes (expected {expected})"
    )]
    Cells {
        /// Cells given.
        cells: usize,
        /// Images declared.
        images: usize,
        /// Classes declared.
        classes: usize,
        /// `images × classes`.
        expected: usize,
    },
    /// The split-level counts are not one per image.
    #[error("{given} split-level counts for {images} images")]
    Split {
        /// Split-level counts given.
        given: usize,
        /// Images declared.
        images: usize,
    },
    /// More images than the resampler can index.
    #[error("{images} images: at most {} are supported", u32::MAX)]
    TooManyImages {
        /// Images declared.
        images: usize,
    },
    /// The two evals do not cover the same number of images or classes.
    #[error(
        "the baseline has {baseline_images} images × {baseline_classes} classes, the candidate {candidate_images} × {candidate_classes}: a paired comparison needs the same images and classes in the same order"
    )]
    Unpaired {
        /// Images in the baseline.
        baseline_images: usize,
        /// Classes in the baseline.
        baseline_classes: usize,
        /// Images in the candidate.
        candidate_images: usize,
        /// Classes in the candidate.
        candidate_classes: usize,
    },
    /// The resampling was made for a different number of images.
    #[error("the resampling draws from {resampling} images, the counts hold {images}")]
    Resampling {
        /// Images the resampling draws from.
        resampling: usize,
        /// Images in the counts.
        images: usize,
    },
    /// A [`Quantity::Class`](super::Quantity::Class) names a column that does not exist.
    #[error("class index {class} is out of range: the counts have {classes} classes")]
    NoSuchClass {
        /// The index asked for.
        class: usize,
        /// Classes in the counts.
        classes: usize,
    },
}

/// One eval's counts: per image and class, and per image at split level.
///
/// The per-class cells are a flat `images × classes` array, image-major (cell `i * classes + c`
/// is image `i`, class `c`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalCounts {
    images: usize,
    classes: usize,
    cells: Vec<Counts>,
    split: Vec<Counts>,
}

impl EvalCounts {
    /// Checks the shapes. Without `split`, the split-level counts of an image are the sums of
    /// its per-class counts (micro pooling); pass them when the source reports its own (a
    /// misclassification is then whatever the source says it is, not necessarily one FP and one
    /// FN).
    pub fn new(
        images: usize,
        classes: usize,
        cells: Vec<Counts>,
        split: Option<Vec<Counts>>,
    ) -> Result<EvalCounts, ShapeError> {
        if u32::try_from(images).is_err() {
            return Err(ShapeError::TooManyImages { images });
        }
        let expected = images.checked_mul(classes);
        if expected != Some(cells.len()) {
            return Err(ShapeError::Cells {
                cells: cells.len(),
                images,
                classes,
                expected: expected.unwrap_or(usize::MAX),
            });
        }
        let split = match split {
            Some(split) if split.len() != images => {
                return Err(ShapeError::Split {
                    given: split.len(),
                    images,
                });
            }
            Some(split) => split,
            None => (0..images)
                .map(|i| {
                    let row = &cells[i * classes..(i + 1) * classes];
                    row.iter().fold(Counts::default(), |sum, c| Counts {
                        tp: sum.tp.saturating_add(c.tp),
                        fp: sum.fp.saturating_add(c.fp),
                        fn_: sum.fn_.saturating_add(c.fn_),
                    })
                })
                .collect(),
        };
        Ok(EvalCounts {
            images,
            classes,
            cells,
            split,
        })
    }

    /// Images (rows).
    pub fn images(&self) -> usize {
        self.images
    }

    /// Classes (columns).
    pub fn classes(&self) -> usize {
        self.classes
    }

    fn row(&self, image: usize) -> &[Counts] {
        &self.cells[image * self.classes..(image + 1) * self.classes]
    }
}

/// The six counts of one cell: the baseline's TP, FP, FN, then the candidate's.
pub(super) type Cell = [u32; 6];

/// A non-zero cell of one image. The split level is column `classes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    pub(super) column: u32,
    pub(super) counts: Cell,
}

/// Two evals of the same images, paired image by image.
///
/// Stored sparsely (a class absent from an image, in both evals, costs nothing) and in a
/// canonical image order, so every result is a function of the multiset of images: the order in
/// which a source listed them changes nothing.
#[derive(Clone, Debug)]
pub struct PairedCounts {
    images: usize,
    classes: usize,
    /// `entries[starts[p]..starts[p + 1]]` are the non-zero cells of the image at position `p`.
    starts: Vec<u32>,
    entries: Vec<Entry>,
    /// The same cells as full rows, when most cells are non-zero and a replicate's sums fit in
    /// `u32`: adding whole rows vectorises, and skipping zeros no longer pays.
    dense: Option<Dense>,
    order: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Dense {
    /// `(classes + 1) × 6` counts an image.
    rows: Vec<u32>,
    /// Their sum over all images.
    total: Vec<u32>,
}

/// Replicates accumulated together on the dense path, so each image's row is read once for
/// all of them while their sums stay in the L1 cache.
pub(super) const BLOCK: usize = 8;

impl PairedCounts {
    /// Pairs the two evals: row `i` of both is the same image, column `c` of both the same class.
    pub fn new(baseline: EvalCounts, candidate: EvalCounts) -> Result<PairedCounts, ShapeError> {
        if baseline.images != candidate.images || baseline.classes != candidate.classes {
            return Err(ShapeError::Unpaired {
                baseline_images: baseline.images,
                baseline_classes: baseline.classes,
                candidate_images: candidate.images,
                candidate_classes: candidate.classes,
            });
        }
        let (images, classes) = (baseline.images, baseline.classes);
        let rows: Vec<Vec<Entry>> = (0..images)
            .map(|i| {
                let pairs = baseline.row(i).iter().zip(candidate.row(i));
                let split = std::iter::once((&baseline.split[i], &candidate.split[i]));
                pairs
                    .chain(split)
                    .enumerate()
                    .filter(|(_, (b, c))| !(b.is_zero() && c.is_zero()))
                    .map(|(column, (b, c))| Entry {
                        // `column <= classes`, and `classes` fits: it is at most `cells.len()`,
                        // and a 4-billion-class eval does not fit in memory anyway.
                        column: u32::try_from(column).unwrap_or(u32::MAX),
                        counts: [b.tp, b.fp, b.fn_, c.tp, c.fp, c.fn_],
                    })
                    .collect()
            })
            .collect();
        let mut order: Vec<usize> = (0..images).collect();
        // Stable, so images with identical counts keep their input order; which of two identical
        // images sits where cannot change a result.
        order.sort_by(|&a, &b| rows[a].as_slice().cmp(rows[b].as_slice()));
        let mut starts = Vec::with_capacity(images + 1);
        let mut entries = Vec::new();
        starts.push(0);
        for &i in &order {
            entries.extend_from_slice(&rows[i]);
            let end =
                u32::try_from(entries.len()).map_err(|_| ShapeError::TooManyImages { images })?;
            starts.push(end);
        }
        let width = (classes + 1) * 6;
        let largest = entries
            .iter()
            .flat_map(|e| e.counts)
            .max()
            .map_or(0, u64::from);
        // A replicate's sum is at most (images drawn) × (largest cell).
        let fits = largest.saturating_mul(images as u64) <= u64::from(u32::MAX);
        let dense = (fits && entries.len() * 4 >= images * (classes + 1)).then(|| {
            let mut rows = vec![0u32; images * width];
            let mut total = vec![0u32; width];
            for p in 0..images {
                for e in &entries[starts[p] as usize..starts[p + 1] as usize] {
                    let at = e.column as usize * 6;
                    rows[p * width + at..p * width + at + 6].copy_from_slice(&e.counts);
                    for (t, &x) in total[at..at + 6].iter_mut().zip(&e.counts) {
                        *t += x;
                    }
                }
            }
            Dense { rows, total }
        });
        Ok(PairedCounts {
            images,
            classes,
            starts,
            entries,
            dense,
            order,
        })
    }

    /// Images in both evals.
    pub fn images(&self) -> usize {
        self.images
    }

    /// Classes in both evals.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The canonical order: the image at position `p` of a [`Resampling`](super::Resampling)'s
    /// weights is row `canonical_order()[p]` of the [`EvalCounts`]. A statistic computed
    /// elsewhere (mAP from matched detections) uses it to reweight the same images.
    pub fn canonical_order(&self) -> &[usize] {
        &self.order
    }

    /// Pooled counts per column (classes, then the split level) with each image at position `p`
    /// counted `weights[p]` times, or once without weights.
    pub(super) fn accumulate(&self, weights: Option<&[u32]>, sums: &mut [[u64; 6]]) {
        debug_assert_eq!(sums.len(), self.classes + 1);
        sums.fill([0; 6]);
        for p in 0..self.images {
            let w = weights.map_or(1, |w| w[p]);
            if w == 0 {
                continue;
            }
            let w = u64::from(w);
            let range = self.starts[p] as usize..self.starts[p + 1] as usize;
            for entry in &self.entries[range] {
                let sum = &mut sums[entry.column as usize];
                for (s, &x) in sum.iter_mut().zip(&entry.counts) {
                    *s += w * u64::from(x);
                }
            }
        }
    }

    /// The same pairs without the dense rows, to test one path against the other.
    #[cfg(test)]
    pub(super) fn sparse_only(&self) -> (PairedCounts, bool) {
        let was_dense = self.dense.is_some();
        (
            PairedCounts {
                dense: None,
                ..self.clone()
            },
            was_dense,
        )
    }

    /// [`accumulate`](Self::accumulate) for several replicates at once: `sums[k]` from
    /// `weights[k]`. The same integers either way, so the same results.
    pub(super) fn accumulate_many(&self, weights: &[Vec<u32>], sums: &mut [Vec<[u64; 6]>]) {
        let Some(dense) = &self.dense else {
            for (w, s) in weights.iter().zip(sums) {
                self.accumulate(Some(w), s);
            }
            return;
        };
        let width = (self.classes + 1) * 6;
        // Σ wᵢ·xᵢ = Σ xᵢ + Σ (wᵢ − 1)·xᵢ: starting from the total, an image drawn once (37% of
        // them) costs nothing, one never drawn costs a subtraction, and the work is E|W − 1| =
        // 2/e ≈ 0.74 row operations an image instead of E[W] = 1. The arithmetic wraps: exact
        // modulo 2³², and the final sums fit (checked when the rows were built).
        let mut block: Vec<u32> = dense.total.repeat(weights.len());
        for (p, row) in dense.rows.chunks_exact(width).enumerate() {
            for (w, sum) in weights.iter().zip(block.chunks_exact_mut(width)) {
                match w[p] {
                    0 => {
                        for (s, &x) in sum.iter_mut().zip(row) {
                            *s = s.wrapping_sub(x);
                        }
                    }
                    // Weights are small: adding the row w − 1 times beats a multiply, which
                    // baseline x86-64 cannot vectorise for 32-bit lanes.
                    w => {
                        for _ in 1..w {
                            for (s, &x) in sum.iter_mut().zip(row) {
                                *s = s.wrapping_add(x);
                            }
                        }
                    }
                }
            }
        }
        for (sum, out) in block.chunks_exact(width).zip(sums) {
            for (column, o) in sum.chunks_exact(6).zip(out.iter_mut()) {
                for (o, &s) in o.iter_mut().zip(column) {
                    *o = u64::from(s);
                }
            }
        }
    }
}
