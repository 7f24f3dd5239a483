//! The bootstrap replicates: which images each replicate draws, fixed by a seed.

use std::num::NonZeroUsize;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// The replicates of a paired bootstrap over `images` images, fixed by a seed.
///
/// Replicate `r` draws `images` image positions uniformly with replacement from its own
/// generator: ChaCha8 keyed with the seed (8 little-endian bytes, then 24 zero bytes) on stream
/// `r`, each draw an unbiased bounded integer from one or more 64-bit outputs (Lemire's
/// multiply-and-reject). A replicate depends only on the seed, its index and the number of
/// images, never on the thread that computes it or the version of `rand`: the same seed gives
/// the same replicates on every machine and thread count, and every check that uses the same
/// `Resampling` sees the same images in each replicate.
#[derive(Clone, Debug)]
pub struct Resampling {
    images: usize,
    resamples: usize,
    draws: Draws,
    threads: NonZeroUsize,
}

#[derive(Clone, Copy, Debug)]
enum Draws {
    ChaCha8 {
        seed: u64,
    },
    /// Every one of the `images^images` ordered draws once: the exact bootstrap distribution,
    /// for tests on tiny inputs.
    #[cfg(test)]
    Exhaustive,
}

impl Resampling {
    /// `resamples` replicates of `images` images from `seed`, computed on as many threads as
    /// the machine offers.
    pub fn new(images: usize, resamples: usize, seed: u64) -> Resampling {
        let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Resampling {
            images,
            resamples,
            draws: Draws::ChaCha8 { seed },
            threads,
        }
    }

    /// The same replicates, computed on `threads` threads (which changes nothing but the time).
    pub fn with_threads(self, threads: NonZeroUsize) -> Resampling {
        Resampling { threads, ..self }
    }

    /// Every ordered draw of `images` images once (`images^images` replicates).
    #[cfg(test)]
    pub(super) fn exhaustive(images: usize) -> Resampling {
        let resamples = u32::try_from(images)
            .ok()
            .and_then(|n| images.checked_pow(n))
            .filter(|&r| r <= 10_000_000)
            .expect("an exhaustive bootstrap is for a handful of images");
        Resampling {
            images,
            resamples,
            draws: Draws::Exhaustive,
            threads: NonZeroUsize::MIN,
        }
    }

    /// Images each replicate draws.
    pub fn images(&self) -> usize {
        self.images
    }

    /// Replicates.
    pub fn resamples(&self) -> usize {
        self.resamples
    }

    /// Fills `weights` (one slot per image) with how many times replicate `replicate` drew each
    /// image; the weights sum to the number of images.
    ///
    /// # Panics
    /// If `weights.len()` is not the number of images.
    pub fn weights(&self, replicate: usize, weights: &mut [u32]) {
        assert_eq!(weights.len(), self.images, "one weight per image");
        weights.fill(0);
        let n = self.images as u64;
        match self.draws {
            Draws::ChaCha8 { seed } => {
                let mut key = [0u8; 32];
                key[..8].copy_from_slice(&seed.to_le_bytes());
                let mut rng = ChaCha8Rng::from_seed(key);
                rng.set_stream(replicate as u64);
                for _ in 0..self.images {
                    weights[below(&mut rng, n) as usize] += 1;
                }
            }
            #[cfg(test)]
            Draws::Exhaustive => {
                let mut rest = replicate;
                for _ in 0..self.images {
                    weights[rest % self.images] += 1;
                    rest /= self.images;
                }
            }
        }
    }

    /// `f(replicate, weights)` for every replicate, in replicate order, spread over the threads
    /// in contiguous chunks. Each result depends only on its replicate, so the output is the
    /// same for any number of threads.
    pub fn map<T, F>(&self, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize, &[u32]) -> T + Sync,
    {
        self.map_blocks(1, |first, weights| vec![f(first, &weights[0])])
    }

    /// Like [`map`](Self::map), `block` replicates at a time: `f(first, weights)` gets the
    /// weights of replicates `first..first + weights.len()` and returns one result for each.
    pub(super) fn map_blocks<T, F>(&self, block: usize, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize, &[Vec<u32>]) -> Vec<T> + Sync,
    {
        let run = |range: std::ops::Range<usize>| -> Vec<T> {
            let mut weights = vec![vec![0; self.images]; block.min(range.len())];
            let mut out = Vec::with_capacity(range.len());
            let mut first = range.start;
            while first < range.end {
                let len = block.min(range.end - first);
                for (k, w) in weights[..len].iter_mut().enumerate() {
                    self.weights(first + k, w);
                }
                let results = f(first, &weights[..len]);
                debug_assert_eq!(results.len(), len);
                out.extend(results);
                first += len;
            }
            out
        };
        let threads = self.threads.get().min(self.resamples.max(1));
        if threads == 1 {
            return run(0..self.resamples);
        }
        let chunk = self.resamples.div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range =
                        (t * chunk).min(self.resamples)..((t + 1) * chunk).min(self.resamples);
                    let run = &run;
                    scope.spawn(move || run(range))
                })
                .collect();
            let mut out = Vec::with_capacity(self.resamples);
            for handle in handles {
                match handle.join() {
                    Ok(part) => out.extend(part),
                    // A panic in `f` is a bug; surface it as one, on the caller's thread.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            out
        })
    }
}

/// A uniform integer in `0..n` (`n > 0`), unbiased: Lemire, "Fast random integer generation in
/// an interval" (ACM TOMACS, 2019).
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let mut product = u128::from(rng.next_u64()) * u128::from(n);
    if (product as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (product as u64) < threshold {
            product = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (product >> 64) as u64
}
