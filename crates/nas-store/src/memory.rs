//! [`MemoryStorage`]: studies held in this process's memory, as Optuna's `InMemoryStorage`
//! holds them: for an ask-and-tell session or a benchmark that keeps nothing, where a database
//! per request (even SQLite in memory: a transaction, a statement or five, JSON in and out)
//! would be most of an ask's bookkeeping.
//!
//! Every clone of a storage is a handle on the same studies, so threads of one process can
//! share a study; each method is one step under one lock, which gives the same guarantees as
//! [`SqlStorage`](super::SqlStorage)'s transactions (dense unique numbers, a trial claimed or
//! ended once, a trial cap never overshot). Nothing outlives the last handle, and nothing is
//! shared with another process: that is what the SQL storages are for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use super::codec::{check_dense, check_directions, check_end, check_params, interrupted_reason};
use super::storage::{Creation, Storage, StorageError, StudyInfo, TrialEnd};
use super::trial::{unix_now, Direction, Trial, TrialState};
use super::worker::WorkerId;
use nas_space::Config;

/// Studies in this process's memory; clones share them (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    studies: Arc<Mutex<Vec<StoredStudy>>>,
}

/// One study: what a study's rows, attribute rows and trial rows hold in the SQL storages.
#[derive(Debug)]
struct StoredStudy {
    info: StudyInfo,
    attrs: BTreeMap<String, Value>,
    /// Indexed by trial number (numbers are dense from 0).
    trials: Vec<Trial>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// The studies, locked for one step. A thread that panicked while holding the lock left
    /// no step half done (every step checks before it changes anything), so the studies
    /// stay usable.
    fn studies(&self) -> MutexGuard<'_, Vec<StoredStudy>> {
        self.studies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `step` on study `id`, or fails with [`StorageError::UnknownStudyId`].
    fn with_study<R>(
        &self,
        id: i64,
        step: impl FnOnce(&mut StoredStudy) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let mut studies = self.studies();
        let study = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| studies.get_mut(i))
            .ok_or(StorageError::UnknownStudyId(id))?;
        step(study)
    }
}

impl StoredStudy {
    /// Trial `number`, or [`StorageError::UnknownTrial`].
    fn trial_mut(&mut self, number: u64) -> Result<&mut Trial, StorageError> {
        let name = &self.info.name;
        usize::try_from(number)
            .ok()
            .and_then(|n| self.trials.get_mut(n))
            .ok_or_else(|| StorageError::UnknownTrial {
                study: name.clone(),
                number,
            })
    }

    /// Trial `number` if it is RUNNING; [`StorageError::UnknownTrial`] or
    /// [`StorageError::NotRunning`] otherwise.
    fn running_mut(&mut self, number: u64) -> Result<&mut Trial, StorageError> {
        let trial = self.trial_mut(number)?;
        match trial.state {
            TrialState::Running => Ok(trial),
            state => Err(StorageError::NotRunning { number, state }),
        }
    }

    /// The number the next trial gets.
    fn next_number(&self) -> u64 {
        self.trials.len() as u64
    }

    /// Whether the study holds `cap` or more trials that count toward a budget (never
    /// without a cap).
    fn at_cap(&self, cap: Option<u64>) -> bool {
        cap.is_some_and(|cap| {
            let counted = self
                .trials
                .iter()
                .filter(|t| t.state.counts_toward_budget());
            counted.count() as u64 >= cap
        })
    }

    /// Adds a WAITING trial; returns its number.
    fn push_waiting(&mut self, params: Config, seed: Option<u64>) -> u64 {
        let number = self.next_number();
        self.trials.push(Trial {
            state: TrialState::Waiting,
            seed,
            ..Trial::running(number, params)
        });
        number
    }

    /// Adds a RUNNING trial for `worker`; returns it.
    fn push_running(&mut self, params: &Config, seed: Option<u64>, worker: &WorkerId) -> Trial {
        let now = unix_now();
        let trial = Trial {
            seed,
            started_at: Some(now),
            heartbeat_at: Some(now),
            worker: Some(worker.clone()),
            ..Trial::running(self.next_number(), params.clone())
        };
        self.trials.push(trial.clone());
        trial
    }

    /// Fails the RUNNING trials that `interrupted` picks (they must record their worker) and
    /// queues a WAITING copy of each, with `why` said of its worker; returns their numbers.
    fn fail_and_requeue(&mut self, interrupted: impl Fn(&Trial) -> bool, why: &str) -> Vec<u64> {
        let now = unix_now();
        let picked: Vec<usize> = (0..self.trials.len())
            .filter(|&n| {
                let trial = &self.trials[n];
                trial.state == TrialState::Running && trial.worker.is_some() && interrupted(trial)
            })
            .collect();
        for &n in &picked {
            let (params, seed) = (self.trials[n].params.clone(), self.trials[n].seed);
            let copy = self.push_waiting(params, seed);
            let trial = &mut self.trials[n];
            let worker = trial
                .worker
                .as_ref()
                .expect("picked trials record their worker");
            trial.fail_reason = Some(interrupted_reason(worker, why, copy));
            trial.state = TrialState::Fail;
            trial.finished_at = Some(now);
        }
        picked.into_iter().map(|n| n as u64).collect()
    }
}

impl Storage for MemoryStorage {
    fn open_study(
        &mut self,
        name: &str,
        directions: &[Direction],
    ) -> Result<StudyInfo, StorageError> {
        let mut studies = self.studies();
        let info = match studies.iter().find(|s| s.info.name == name) {
            Some(study) => study.info.clone(),
            None => {
                let info = StudyInfo {
                    id: studies.len() as i64 + 1,
                    name: name.to_string(),
                    directions: directions.to_vec(),
                    created_at: unix_now(),
                };
                studies.push(StoredStudy {
                    info: info.clone(),
                    attrs: BTreeMap::new(),
                    trials: Vec::new(),
                });
                info
            }
        };
        check_directions(info, directions)
    }

    fn find_study(&mut self, name: &str) -> Result<Option<StudyInfo>, StorageError> {
        let studies = self.studies();
        Ok(studies
            .iter()
            .find(|s| s.info.name == name)
            .map(|s| s.info.clone()))
    }

    fn list_studies(&mut self) -> Result<Vec<StudyInfo>, StorageError> {
        Ok(self.studies().iter().map(|s| s.info.clone()).collect())
    }

    fn set_study_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<(), StorageError> {
        self.with_study(study, |s| {
            s.attrs.insert(key.to_string(), value.clone());
            Ok(())
        })
    }

    fn study_attr_or_insert(
        &mut self,
        study: i64,
        key: &str,
        value: &Value,
    ) -> Result<Value, StorageError> {
        self.with_study(study, |s| {
            Ok(s.attrs
                .entry(key.to_string())
                .or_insert_with(|| value.clone())
                .clone())
        })
    }

    fn study_attr(&mut self, study: i64, key: &str) -> Result<Option<Value>, StorageError> {
        self.with_study(study, |s| Ok(s.attrs.get(key).cloned()))
    }

    fn study_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>, StorageError> {
        self.with_study(study, |s| Ok(s.attrs.clone()))
    }

    fn import_study(
        &mut self,
        info: &StudyInfo,
        attrs: &BTreeMap<String, Value>,
        trials: &[Trial],
    ) -> Result<StudyInfo, StorageError> {
        check_dense(trials)?;
        for trial in trials {
            check_params(&trial.params)?;
        }
        let mut studies = self.studies();
        if studies.iter().any(|s| s.info.name == info.name) {
            return Err(StorageError::StudyExists(info.name.clone()));
        }
        let info = StudyInfo {
            id: studies.len() as i64 + 1,
            ..info.clone()
        };
        studies.push(StoredStudy {
            info: info.clone(),
            attrs: attrs.clone(),
            trials: trials.to_vec(),
        });
        Ok(info)
    }

    fn create_running(
        &mut self,
        study: i64,
        params: &Config,
        seed: Option<u64>,
        worker: &WorkerId,
    ) -> Result<Trial, StorageError> {
        check_params(params)?;
        self.with_study(study, |s| Ok(s.push_running(params, seed, worker)))
    }

    fn try_create_running(
        &mut self,
        study: i64,
        number: u64,
        params: &Config,
        seed: Option<u64>,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Creation, StorageError> {
        check_params(params)?;
        self.with_study(study, |s| {
            Ok(if s.next_number() != number {
                Creation::NumberTaken
            } else if s.at_cap(cap) {
                Creation::AtCap
            } else {
                Creation::Created(Box::new(s.push_running(params, seed, worker)))
            })
        })
    }

    fn enqueue(
        &mut self,
        study: i64,
        params: &Config,
        seed: Option<u64>,
    ) -> Result<u64, StorageError> {
        check_params(params)?;
        self.with_study(study, |s| Ok(s.push_waiting(params.clone(), seed)))
    }

    fn claim_waiting(
        &mut self,
        study: i64,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Option<Trial>, StorageError> {
        self.with_study(study, |s| {
            if s.at_cap(cap) {
                return Ok(None);
            }
            let Some(trial) = s.trials.iter_mut().find(|t| t.state == TrialState::Waiting) else {
                return Ok(None);
            };
            let now = unix_now();
            trial.state = TrialState::Running;
            trial.started_at = Some(now);
            trial.heartbeat_at = Some(now);
            trial.worker = Some(worker.clone());
            Ok(Some(trial.clone()))
        })
    }

    fn report_intermediate(
        &mut self,
        study: i64,
        number: u64,
        step: u64,
        values: &[f64],
    ) -> Result<(), StorageError> {
        self.with_study(study, |s| {
            let trial = s.running_mut(number)?;
            trial.intermediate.insert(step, values.to_vec());
            // A report is a sign of life.
            trial.heartbeat_at = Some(unix_now());
            Ok(())
        })
    }

    fn set_trial_attr(
        &mut self,
        study: i64,
        number: u64,
        key: &str,
        value: &Value,
    ) -> Result<(), StorageError> {
        self.with_study(study, |s| {
            let trial = s.trial_mut(number)?;
            trial.attrs.insert(key.to_string(), value.clone());
            Ok(())
        })
    }

    fn finish(&mut self, study: i64, number: u64, end: TrialEnd<'_>) -> Result<(), StorageError> {
        self.with_study(study, |s| {
            check_end(number, s.info.directions.len(), &end)?;
            let trial = s.running_mut(number)?;
            trial.state = end.state;
            trial.values = end.values.map(<[f64]>::to_vec);
            trial.constraints = end.constraints.map(<[f64]>::to_vec);
            trial.fail_reason = end.reason.map(str::to_string);
            trial.finished_at = Some(unix_now());
            Ok(())
        })
    }

    fn trials(
        &mut self,
        study: i64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Trial>, StorageError> {
        self.with_study(study, |s| {
            let wanted = |t: &&Trial| states.is_none_or(|states| states.contains(&t.state));
            Ok(s.trials.iter().filter(wanted).cloned().collect())
        })
    }

    fn trials_catch_up(
        &mut self,
        study: i64,
        from: u64,
        also: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        self.with_study(study, |s| {
            let newer = usize::try_from(from)
                .map_or(&[][..], |from| s.trials.get(from..).unwrap_or_default());
            let mut listed: Vec<&Trial> = also
                .iter()
                .filter(|&&n| n < from)
                .filter_map(|&n| s.trials.get(usize::try_from(n).ok()?))
                .collect();
            listed.sort_by_key(|t| t.number);
            listed.dedup_by_key(|t| t.number);
            Ok(listed.into_iter().chain(newer).cloned().collect())
        })
    }

    fn trial(&mut self, study: i64, number: u64) -> Result<Trial, StorageError> {
        self.with_study(study, |s| s.trial_mut(number).map(|t| t.clone()))
    }

    fn recover_orphans(&mut self, study: i64) -> Result<Vec<u64>, StorageError> {
        self.with_study(study, |s| {
            let dead = |t: &Trial| t.worker.as_ref().is_some_and(WorkerId::is_dead_local);
            Ok(s.fail_and_requeue(dead, "is gone"))
        })
    }

    fn heartbeat(&mut self, study: i64, numbers: &[u64]) -> Result<(), StorageError> {
        self.with_study(study, |s| {
            let now = unix_now();
            for &n in numbers {
                let running = usize::try_from(n)
                    .ok()
                    .and_then(|n| s.trials.get_mut(n))
                    .filter(|t| t.state == TrialState::Running);
                if let Some(trial) = running {
                    trial.heartbeat_at = Some(now);
                }
            }
            Ok(())
        })
    }

    fn recover_stale(&mut self, study: i64, grace_s: f64) -> Result<Vec<u64>, StorageError> {
        self.with_study(study, |s| {
            let before = unix_now() - grace_s;
            let stale = |t: &Trial| t.heartbeat_at.is_some_and(|beat| beat < before);
            let why = format!("sent no heartbeat for more than {grace_s} s");
            Ok(s.fail_and_requeue(stale, &why))
        })
    }
}
