//! How far a job has come, read from the logs Replicate reports with it.
//!
//! The FLUX LoRA trainer and the fine-tuned FLUX models log through tqdm, whose lines look like
//! `flux_train_replicate:  45%|████▌     | 450/1000 [05:10<06:20,  1.45it/s]`: a percentage, the
//! steps done of all, the time spent and the time left. Logs come whole each time (everything so
//! far), with carriage returns between tqdm's redraws, so the last such line is the news. Anything
//! else in the logs (captioning, downloads, warnings) is passed over; a log with no such line says
//! nothing about progress.

use serde::{Deserialize, Serialize};

/// A job whose progress its owner sees in a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Tracked {
    Training { model_id: i64 },
    Generation { generation_id: i64 },
}

impl Tracked {
    /// How it is stored (`job_progress.kind`) and named in dedupe keys.
    pub fn kind(self) -> &'static str {
        match self {
            Tracked::Training { .. } => "training",
            Tracked::Generation { .. } => "generation",
        }
    }

    pub fn subject_id(self) -> i64 {
        match self {
            Tracked::Training { model_id } => model_id,
            Tracked::Generation { generation_id } => generation_id,
        }
    }

    /// The job stored as `kind` ([`Tracked::kind`]) and `subject_id`.
    pub fn parse(kind: &str, subject_id: i64) -> Option<Self> {
        match kind {
            "training" => Some(Tracked::Training {
                model_id: subject_id,
            }),
            "generation" => Some(Tracked::Generation {
                generation_id: subject_id,
            }),
            _ => None,
        }
    }

    /// `training:<model>` or `generation:<generation>`.
    pub fn key(self) -> String {
        format!("{}:{}", self.kind(), self.subject_id())
    }
}

/// The least time between two edits of one status message (Telegram allows about one message a
/// second per chat, and a person needs no more).
pub const EDIT_INTERVAL_SECS: f64 = 20.0;

/// Progress as a job last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// 0-100.
    pub percent: i16,
    /// Steps done and all steps, when the line says.
    pub steps: Option<(i32, i32)>,
    /// Seconds left, as tqdm estimates them.
    pub eta_seconds: Option<i32>,
}

/// The last progress line in `logs`, if there is one.
pub fn from_logs(logs: &str) -> Option<Progress> {
    logs.rsplit(['\n', '\r']).find_map(parse_line)
}

/// One tqdm line: `<prefix>: NN%|<bar>| n/total [spent<left, rate]`. Tolerant: the prefix, the
/// bar and the bracket are optional, the percentage alone will do, and `n/total` alone too.
fn parse_line(line: &str) -> Option<Progress> {
    let steps = steps_in(line);
    let percent = percent_in(line).or_else(|| {
        let (done, total) = steps?;
        Some((i64::from(done) * 100 / i64::from(total)) as i16)
    })?;
    Some(Progress {
        percent: percent.clamp(0, 100),
        steps,
        eta_seconds: eta_in(line),
    })
}

/// `NN%` right before tqdm's `|` (or at the end of a word), 0-100.
fn percent_in(line: &str) -> Option<i16> {
    let at = line.find("%|").or_else(|| line.find('%'))?;
    let digits: String = line[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let percent: i16 = digits.parse().ok()?;
    (0..=100).contains(&percent).then_some(percent)
}

/// `n/total` after the bar (tqdm's second `|`), or anywhere as a last resort; `0 <= n <= total`.
fn steps_in(line: &str) -> Option<(i32, i32)> {
    let after_bar = line.rsplit_once('|').map_or(line, |(_, rest)| rest);
    after_bar.split_whitespace().find_map(|word| {
        let (done, total) = word.split_once('/')?;
        let done: i32 = done.parse().ok()?;
        let total: i32 = total.parse().ok()?;
        (total > 0 && (0..=total).contains(&done)).then_some((done, total))
    })
}

/// The time left in `[spent<left, …]`: `mm:ss` or `h:mm:ss`; tqdm writes `?` before it knows.
fn eta_in(line: &str) -> Option<i32> {
    let bracket = &line[line.rfind('[')? + 1..];
    let left = bracket.split_once('<')?.1;
    let left = left.split([',', ']']).next()?.trim();
    let mut seconds: i32 = 0;
    let mut parts = 0;
    for part in left.split(':') {
        seconds = seconds.checked_mul(60)?.checked_add(part.parse().ok()?)?;
        parts += 1;
    }
    (2..=3).contains(&parts).then_some(seconds)
}

/// A text bar of `width` cells for `percent` (`▓▓▓░░░░░░░`).
pub fn bar(percent: i16, width: usize) -> String {
    let filled = (usize::try_from(percent.clamp(0, 100)).unwrap_or(0) * width + 50) / 100;
    format!("{}{}", "▓".repeat(filled), "░".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_flux_trainers_tqdm_line() {
        let logs = "Loading model...\nflux_train_replicate:  45%|████▌     | 450/1000 [05:10<06:20,  1.45it/s]";
        assert_eq!(
            from_logs(logs),
            Some(Progress {
                percent: 45,
                steps: Some((450, 1000)),
                eta_seconds: Some(380),
            })
        );
    }

    #[test]
    fn the_last_redraw_counts_with_carriage_returns_between() {
        let logs = "flux_train_replicate:  10%|█ | 100/1000 [01:00<09:00, 1.6it/s]\rflux_train_replicate:  11%|█ | 110/1000 [01:06<08:54, 1.6it/s]\nsaving checkpoint\n";
        let progress = from_logs(logs).unwrap();
        assert_eq!(progress.percent, 11);
        assert_eq!(progress.steps, Some((110, 1000)));
        assert_eq!(progress.eta_seconds, Some(534));
    }

    #[test]
    fn an_unknown_eta_hours_and_bare_counts_are_read() {
        let start =
            from_logs("flux_train_replicate:   0%|          | 0/1000 [00:00<?, ?it/s]").unwrap();
        assert_eq!(start.percent, 0);
        assert_eq!(start.eta_seconds, None);
        let long = from_logs(" 5%|▌ | 50/1000 [00:30<1:02:03, 1.1s/it]").unwrap();
        assert_eq!(long.eta_seconds, Some(3723));
        // No percentage: computed from the steps.
        let bare = from_logs("step 250/1000").unwrap();
        assert_eq!((bare.percent, bare.steps), (25, Some((250, 1000))));
        // A prediction's sampling bar.
        let predict =
            from_logs("Using seed: 42\n 54%|█████▎    | 15/28 [00:02<00:01,  7.01it/s]").unwrap();
        assert_eq!((predict.percent, predict.steps), (54, Some((15, 28))));
    }

    #[test]
    fn logs_without_progress_say_nothing() {
        assert_eq!(from_logs(""), None);
        assert_eq!(from_logs("Downloading weights\nCaptioning 12 images"), None);
        assert_eq!(from_logs("accuracy 250%"), None);
        assert_eq!(from_logs("ratio 5/0"), None);
    }

    #[test]
    fn the_bar_fills_with_the_percentage() {
        assert_eq!(bar(0, 10), "░░░░░░░░░░");
        assert_eq!(bar(45, 10), "▓▓▓▓▓░░░░░");
        assert_eq!(bar(100, 10), "▓▓▓▓▓▓▓▓▓▓");
    }
}
