//! `nas ask-tell`: serves a study over JSON lines, so any black box can use our samplers.
//!
//! One request per input line, one answer per output line, flushed at once:
//! - `{"op":"ask"}` → `{"trial":K,"params":{...}}` (active parameters only)
//! - `{"op":"tell","trial":K,"values":[..]}`, or `"state":"fail"` / `"pruned"` (optional
//!   `"constraints":[..]`, `"reason":".."`) → `{"ok":true}`
//! - `{"op":"report","trial":K,"step":S,"values":[..]}` → `{"ok":true}`
//! - `{"op":"best"}` → the best trial, or `{"pareto":[..]}` with several directions
//!
//! A malformed or impossible request is answered `{"error":"..."}` and serving goes on.
//! Interrupted (SIGINT, SIGTERM), the server fails the trials it handed out and was not told
//! about, queues their configurations again for the next `ask`, and exits 130 / 143.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};

use anyhow::Context;
use nas_core::study::{Study, Trial, TrialEnd};
use serde::Deserialize;
use serde_json::{json, Value};

/// One request line.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum Request {
    Ask,
    Tell {
        trial: u64,
        #[serde(default)]
        values: Option<Vec<f64>>,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        constraints: Option<Vec<f64>>,
        #[serde(default)]
        reason: Option<String>,
    },
    Report {
        trial: u64,
        step: u64,
        values: Vec<f64>,
    },
    Best,
}

/// Answers requests from `input` on `output` until the input ends (without signals: the
/// command serves standard input through [`Server`] itself; the fuzz target uses this).
#[allow(dead_code)]
pub fn serve(
    study: &mut Study,
    mut input: impl BufRead,
    mut output: impl Write,
) -> anyhow::Result<()> {
    let mut server = Server::new(study);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if input
            .read_until(b'\n', &mut bytes)
            .context("reading standard input")?
            == 0
        {
            return Ok(());
        }
        server.answer(&bytes, &mut output)?;
    }
}

/// A study served request by request; it remembers the trials it handed out and was not
/// told about yet.
pub struct Server<'s> {
    study: &'s mut Study,
    open: BTreeSet<u64>,
}

impl<'s> Server<'s> {
    /// Serves `study`.
    pub fn new(study: &'s mut Study) -> Server<'s> {
        Server {
            study,
            open: BTreeSet::new(),
        }
    }

    /// Answers one request line on `output` (a blank line gets no answer).
    pub fn answer(&mut self, line: &[u8], output: &mut impl Write) -> anyhow::Result<()> {
        let line = String::from_utf8_lossy(line);
        if line.trim().is_empty() {
            return Ok(());
        }
        let answer = match serde_json::from_str::<Request>(&line) {
            Ok(request) => self
                .handle(request)
                .unwrap_or_else(|e| json!({ "error": e })),
            Err(e) => json!({ "error": format!("malformed request: {e}") }),
        };
        writeln!(output, "{answer}").context("writing standard output")?;
        output.flush().context("flushing standard output")
    }

    /// Fails the trials handed out and not told about (`why`), and queues their
    /// configurations again; returns the copies' numbers.
    pub fn requeue_open(&mut self, why: &str) -> anyhow::Result<Vec<u64>> {
        let mut copies = Vec::new();
        for number in std::mem::take(&mut self.open) {
            // Another server sharing the study may have been told about it meanwhile.
            let running = self
                .study
                .trials()?
                .iter()
                .any(|t| t.number == number && t.state == nas_core::study::TrialState::Running);
            if running {
                copies.push(self.study.fail_and_requeue(number, why)?);
            }
        }
        Ok(copies)
    }

    /// Answers one request, or says why it cannot be answered.
    fn handle(&mut self, request: Request) -> Result<Value, String> {
        let study = &mut *self.study;
        match request {
            Request::Ask => {
                let trial = study.ask().map_err(|e| e.to_string())?;
                self.open.insert(trial.number);
                Ok(json!({ "trial": trial.number, "params": trial.params }))
            }
            Request::Tell {
                trial,
                values,
                state,
                constraints,
                reason,
            } => {
                let end = trial_end(
                    state.as_deref(),
                    values.as_deref(),
                    reason.as_deref(),
                    constraints.as_deref(),
                )?;
                study.tell(trial, end).map_err(|e| e.to_string())?;
                self.open.remove(&trial);
                Ok(json!({ "ok": true }))
            }
            Request::Report {
                trial,
                step,
                values,
            } => {
                study
                    .report(trial, step, &values)
                    .map_err(|e| e.to_string())?;
                Ok(json!({ "ok": true }))
            }
            Request::Best => best(study),
        }
    }
}

/// How a `tell` ends its trial.
fn trial_end<'a>(
    state: Option<&str>,
    values: Option<&'a [f64]>,
    reason: Option<&'a str>,
    constraints: Option<&'a [f64]>,
) -> Result<TrialEnd<'a>, String> {
    let end = match (state.unwrap_or("complete"), values) {
        ("complete", Some(values)) => TrialEnd::complete(values),
        ("complete", None) => return Err("tell needs \"values\" (or \"state\":\"fail\")".into()),
        ("fail", _) => TrialEnd::fail(reason.unwrap_or("reported failed by the caller")),
        ("pruned", _) => TrialEnd {
            values,
            ..TrialEnd::pruned()
        },
        (other, _) => {
            return Err(format!(
                "unknown state `{other}`; use complete, fail or pruned"
            ))
        }
    };
    Ok(match constraints {
        Some(c) => end.with_constraints(c),
        None => end,
    })
}

/// The best trial, or the Pareto set when the study has several objectives.
fn best(study: &mut Study) -> Result<Value, String> {
    let several = study.info().directions.len() > 1;
    let best = study.best_trials().map_err(|e| e.to_string())?;
    if several {
        return Ok(json!({ "pareto": best.iter().map(trial_json).collect::<Vec<_>>() }));
    }
    match best.first() {
        Some(t) => Ok(trial_json(t)),
        None => Err("no trial has completed yet".into()),
    }
}

fn trial_json(t: &Trial) -> Value {
    json!({ "trial": t.number, "params": t.params, "values": t.values })
}
