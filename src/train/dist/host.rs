//! Simulated ranks: threads of one process that all-reduce through host
//! memory. The sum runs in f64 in rank order, so it is deterministic and every
//! rank gets the same bits — what NCCL guarantees across ranks too.

use super::Collective;
use anyhow::{bail, Result};
use candle_core::{DType, Tensor};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[derive(Default)]
struct Round {
    /// Each rank's contribution to the round being gathered.
    bufs: Vec<Option<Vec<f64>>>,
    arrived: usize,
    /// Bumped when a round's sum is ready.
    generation: u64,
    sum: Option<Arc<Vec<f64>>>,
    /// Ranks that have yet to take the finished round's sum.
    takers: usize,
    aborted: bool,
}

/// The shared rendezvous of `world` simulated ranks.
pub struct Group {
    world: usize,
    round: Mutex<Round>,
    cv: Condvar,
}

/// One rank's handle on a [`Group`].
pub struct Member<'g> {
    group: &'g Group,
    rank: usize,
}

impl Group {
    pub fn new(world: usize) -> Self {
        Group {
            world,
            round: Mutex::new(Round {
                bufs: vec![None; world],
                ..Round::default()
            }),
            cv: Condvar::new(),
        }
    }

    pub fn member(&self, rank: usize) -> Member<'_> {
        assert!(rank < self.world, "rank {rank} of {}", self.world);
        Member { group: self, rank }
    }

    /// Wake every waiting rank with an error: a peer failed.
    pub fn abort(&self) {
        self.lock().aborted = true;
        self.cv.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_while<'a>(
        &self,
        g: MutexGuard<'a, Round>,
        cond: impl Fn(&Round) -> bool,
    ) -> Result<MutexGuard<'a, Round>> {
        let g = self
            .cv
            .wait_while(g, |r| !r.aborted && cond(r))
            .unwrap_or_else(|p| p.into_inner());
        // A round that completed before the abort is still delivered.
        if cond(&g) {
            return Err(super::PeerFailed.into());
        }
        Ok(g)
    }

    fn all_reduce(&self, rank: usize, data: Vec<f64>) -> Result<Arc<Vec<f64>>> {
        // A rank back early for the next round waits until all took the last sum.
        let mut g = self.wait_while(self.lock(), |r| r.takers > 0)?;
        if let Some(other) = g.bufs.iter().flatten().next() {
            if other.len() != data.len() {
                bail!(
                    "all-reduce size mismatch: rank {rank} sent {} values, a peer {}",
                    data.len(),
                    other.len()
                );
            }
        }
        g.bufs[rank] = Some(data);
        g.arrived += 1;
        let gen = g.generation;
        if g.arrived == self.world {
            let mut bufs = g
                .bufs
                .iter_mut()
                .map(|b| b.take().expect("every rank arrived"));
            let mut sum = bufs.next().expect("world >= 1");
            for b in bufs {
                sum.iter_mut().zip(&b).for_each(|(s, x)| *s += x);
            }
            g.sum = Some(Arc::new(sum));
            g.arrived = 0;
            g.generation += 1;
            g.takers = self.world;
            self.cv.notify_all();
        } else {
            g = self.wait_while(g, |r| r.generation == gen)?;
        }
        let sum = g.sum.clone().expect("round finished");
        g.takers -= 1;
        if g.takers == 0 {
            g.sum = None;
            self.cv.notify_all();
        }
        Ok(sum)
    }
}

impl Collective for Member<'_> {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world(&self) -> usize {
        self.group.world
    }
    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        let data = t.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let sum = self.group.all_reduce(self.rank, data)?;
        Ok(Tensor::from_slice(&sum, sum.len(), t.device())?.to_dtype(t.dtype())?)
    }
}
