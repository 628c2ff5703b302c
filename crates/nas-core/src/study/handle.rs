//! [`Study`]: ask for configurations, tell results, read the best trials.

use thiserror::Error;

use super::seed::trial_seed;
use crate::pareto::pareto_front_indices;
use crate::sampler::{SampleContext, Sampler, SamplerError};
use crate::space::{SearchSpace, SpaceError};
use nas_store::{Creation, Storage, StorageError, StudyInfo, TrialEnd, WorkerId};
use nas_store::{Direction, Trial, TrialState};

/// Errors of study operations.
#[derive(Debug, Error)]
pub enum StudyError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The sampler failed.
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// A configuration does not fit the space.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The study was created over another search space.
    #[error("study `{study}` was created with another search space; use a new study name")]
    SpaceChanged {
        /// The study's name.
        study: String,
    },
}

/// A study opened for asking and telling.
pub struct Study {
    storage: Box<dyn Storage>,
    info: StudyInfo,
    space: SearchSpace,
    sampler: Box<dyn Sampler>,
    worker: WorkerId,
    recovered: Vec<u64>,
    history: History,
    /// The search seed new trials derive their seed from ([`Study::seed_trials`]).
    trial_seeds: Option<u64>,
}

/// The study's trials as last read, indexed by number. A finished trial's parameters and
/// values never change, so each refresh reads only newer trials and the unfinished ones.
#[derive(Debug, Default)]
struct History {
    trials: Vec<Trial>,
    /// Numbers of the trials in `trials` that were not finished when read.
    unfinished: Vec<u64>,
}

impl History {
    /// Brings the history up to date with `storage`.
    fn refresh(&mut self, storage: &mut dyn Storage, study: i64) -> Result<(), StorageError> {
        let from = self.trials.len() as u64;
        let read = storage.trials_catch_up(study, from, &self.unfinished)?;
        // Every unfinished trial is read again, so the ones still unfinished are among these.
        self.unfinished = unfinished(&read);
        for trial in read {
            let n = trial.number as usize;
            match n.cmp(&self.trials.len()) {
                std::cmp::Ordering::Less => self.trials[n] = trial,
                std::cmp::Ordering::Equal => self.trials.push(trial),
                // Numbers are dense; a gap means another reader's view: read everything.
                std::cmp::Ordering::Greater => {
                    self.trials = storage.trials(study, None)?;
                    self.unfinished = unfinished(&self.trials);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Whether a trial was WAITING when last read (every trial queued before the last
    /// [`History::refresh`] is among the unfinished ones it read).
    fn has_waiting(&self) -> bool {
        self.unfinished
            .iter()
            .any(|&n| self.trials[n as usize].state == TrialState::Waiting)
    }
}

/// The numbers of the trials in `trials` that are not finished.
fn unfinished(trials: &[Trial]) -> Vec<u64> {
    trials
        .iter()
        .filter(|t| !t.state.is_finished())
        .map(|t| t.number)
        .collect()
}

impl Study {
    /// Opens (or creates) the study `name` in `storage`. Trials left running by a process that
    /// died are marked failed and queued to run again; [`Study::recovered`] lists them. Fails
    /// if the sampler cannot serve this space and these directions.
    pub fn open(
        mut storage: Box<dyn Storage>,
        name: &str,
        directions: &[Direction],
        space: SearchSpace,
        sampler: Box<dyn Sampler>,
    ) -> Result<Self, StudyError> {
        sampler.supports(&space, directions)?;
        let info = storage.open_study(name, directions)?;
        check_space(storage.as_mut(), &info, &space)?;
        let recovered = storage.recover_orphans(info.id)?;
        Ok(Study {
            storage,
            info,
            space,
            sampler,
            worker: WorkerId::current(),
            recovered,
            history: History::default(),
            trial_seeds: None,
        })
    }

    /// The study as stored.
    pub fn info(&self) -> &StudyInfo {
        &self.info
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// Trials failed on opening because their process had died (their configurations are
    /// queued again).
    pub fn recovered(&self) -> &[u64] {
        &self.recovered
    }

    /// Gives every trial this handle starts from now on a seed ([`Trial::seed`], stored with
    /// it): [`trial_seed`]`(seed, number)`. A queued trial keeps the seed it was queued with.
    pub fn seed_trials(&mut self, seed: u64) {
        self.trial_seeds = Some(seed);
    }

    /// Starts a trial: a queued configuration if any, else a new proposal of the sampler.
    ///
    /// The proposal is drawn with the random stream of the number the trial will get. If
    /// another worker takes that number first, the history is read again and the proposal
    /// drawn again, now seeing the other worker's trial.
    pub fn ask(&mut self) -> Result<Trial, StudyError> {
        let trial = self.ask_capped(None)?;
        // Only a cap makes the storage refuse to start a trial.
        Ok(trial.expect("an ask without a cap always starts a trial"))
    }

    /// Like [`Study::ask`], but only while the study holds fewer than `cap` running, complete
    /// or pruned trials, counting every worker's ([`TrialState::counts_toward_budget`]);
    /// `None` once it holds `cap`. The count and the start are one step in the storage, so
    /// workers that share a trial budget never start more than `cap` trials between them.
    pub fn ask_within(&mut self, cap: u64) -> Result<Option<Trial>, StudyError> {
        self.ask_capped(Some(cap))
    }

    /// A trial (queued or newly proposed), or `None` when `cap` is reached.
    fn ask_capped(&mut self, cap: Option<u64>) -> Result<Option<Trial>, StudyError> {
        let id = self.info.id;
        loop {
            self.history.refresh(self.storage.as_mut(), id)?;
            // A queued trial is in the history as read: only then is one worth claiming.
            if self.history.has_waiting() {
                if let Some(trial) = self.storage.claim_waiting(id, &self.worker, cap)? {
                    return Ok(Some(trial));
                }
            }
            let trials = &self.history.trials;
            let number = trials.last().map_or(0, |t| t.number + 1);
            let ctx = SampleContext {
                space: &self.space,
                directions: &self.info.directions,
                trials,
                number,
            };
            let params = self.sampler.sample(&ctx)?;
            self.space.check_config(&params)?;
            let seed = self.trial_seeds.map(|seed| trial_seed(seed, number));
            let created =
                self.storage
                    .try_create_running(id, number, &params, seed, &self.worker, cap)?;
            match created {
                Creation::Created(trial) => return Ok(Some(*trial)),
                Creation::AtCap => return Ok(None),
                Creation::NumberTaken => {}
            }
        }
    }

    /// Ends trial `number`. Complete results must hold one finite value per direction
    /// ([`StorageError::ValueCount`], [`StorageError::NonFinite`] otherwise).
    pub fn tell(&mut self, number: u64, end: TrialEnd<'_>) -> Result<(), StudyError> {
        Ok(self.storage.finish(self.info.id, number, end)?)
    }

    /// Ends running trial `number` as failed because `why` (e.g. "interrupted by SIGINT")
    /// and queues a copy of its configuration and seed, which the next [`Study::ask`] of any
    /// worker starts first; returns the copy's number. The copy is queued before the trial is
    /// failed, so a process killed in between loses no configuration.
    pub fn fail_and_requeue(&mut self, number: u64, why: &str) -> Result<u64, StudyError> {
        let trial = self.storage.trial(self.info.id, number)?;
        let copy = self
            .storage
            .enqueue(self.info.id, &trial.params, trial.seed)?;
        let reason = format!("{why}; queued again as trial {copy}");
        self.storage
            .finish(self.info.id, number, TrialEnd::fail(&reason))?;
        Ok(copy)
    }

    /// Records an intermediate value of a running trial.
    pub fn report(&mut self, number: u64, step: u64, values: &[f64]) -> Result<(), StudyError> {
        Ok(self
            .storage
            .report_intermediate(self.info.id, number, step, values)?)
    }

    /// Sets a JSON attribute of trial `number` (architecture, measurements, bracket…).
    pub fn set_trial_attr(
        &mut self,
        number: u64,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StudyError> {
        Ok(self
            .storage
            .set_trial_attr(self.info.id, number, key, value)?)
    }

    /// Sets a JSON attribute of the study (its settings, …), replacing an earlier value.
    pub fn set_attr(&mut self, key: &str, value: &serde_json::Value) -> Result<(), StudyError> {
        Ok(self.storage.set_study_attr(self.info.id, key, value)?)
    }

    /// Fails and queues again the running trials whose worker process on this host is gone
    /// (see [`Storage::recover_orphans`]); returns their numbers.
    pub fn recover_orphans(&mut self) -> Result<Vec<u64>, StudyError> {
        Ok(self.storage.recover_orphans(self.info.id)?)
    }

    /// Marks running trials `numbers` alive now (see [`Storage::heartbeat`]).
    pub fn heartbeat(&mut self, numbers: &[u64]) -> Result<(), StudyError> {
        Ok(self.storage.heartbeat(self.info.id, numbers)?)
    }

    /// Fails and queues again the running trials of any worker, on any host, that sent no
    /// heartbeat for `grace_s` seconds; returns their numbers (see [`Storage::recover_stale`]).
    pub fn recover_stale(&mut self, grace_s: f64) -> Result<Vec<u64>, StudyError> {
        Ok(self.storage.recover_stale(self.info.id, grace_s)?)
    }

    /// Every trial, in number order, read whole from the storage.
    pub fn trials(&mut self) -> Result<Vec<Trial>, StudyError> {
        Ok(self.storage.trials(self.info.id, None)?)
    }

    /// Every trial, in number order, as the storage holds them now: the history this handle
    /// keeps for its sampler, brought up to date by reading only the trials added since and
    /// those not finished when last read (a finished trial never changes).
    pub fn history(&mut self) -> Result<&[Trial], StudyError> {
        self.history.refresh(self.storage.as_mut(), self.info.id)?;
        Ok(&self.history.trials)
    }

    /// The best completed feasible trials: the single best for one objective (earliest of
    /// ties), the Pareto front for several. Infeasible trials count only if none is feasible.
    pub fn best_trials(&mut self) -> Result<Vec<Trial>, StudyError> {
        self.history.refresh(self.storage.as_mut(), self.info.id)?;
        let complete = self
            .history
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .cloned()
            .collect();
        Ok(best_of(complete, &self.info.directions))
    }
}

/// The best of completed trials under `directions` (see [`Study::best_trials`]).
pub fn best_of(complete: Vec<Trial>, directions: &[Direction]) -> Vec<Trial> {
    let any_feasible = complete.iter().any(Trial::is_feasible);
    let pool: Vec<Trial> = complete
        .into_iter()
        .filter(|t| t.values.is_some() && (t.is_feasible() || !any_feasible))
        .collect();
    let losses: Vec<Vec<f64>> = pool
        .iter()
        .map(|t| {
            let values = t.values.as_deref().unwrap_or(&[]);
            values
                .iter()
                .zip(directions)
                .map(|(&v, d)| d.to_loss(v))
                .collect()
        })
        .collect();
    if directions.len() == 1 {
        let best = (0..pool.len()).min_by(|&a, &b| losses[a][0].total_cmp(&losses[b][0]));
        return best.map(|i| vec![pool[i].clone()]).unwrap_or_default();
    }
    let mut front = pareto_front_indices(&losses);
    front.sort_unstable();
    front.into_iter().map(|i| pool[i].clone()).collect()
}

/// Study attribute holding the search space a study was created with (its parameters as
/// JSON, which deserialise to a [`SearchSpace`]).
pub const SPACE_ATTR: &str = "space";

/// Records the space with a new study, or checks it matches the recorded one.
fn check_space(
    storage: &mut dyn Storage,
    info: &StudyInfo,
    space: &SearchSpace,
) -> Result<(), StudyError> {
    let json = serde_json::to_value(space.params())
        .map_err(|e| StorageError::Corrupt(format!("cannot encode the space: {e}")))?;
    let stored = storage.study_attr_or_insert(info.id, SPACE_ATTR, &json)?;
    if stored != json {
        return Err(StudyError::SpaceChanged {
            study: info.name.clone(),
        });
    }
    Ok(())
}
