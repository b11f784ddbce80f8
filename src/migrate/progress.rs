//! Progress bars on a terminal (indicatif, on stderr); nothing at all when stderr is not one.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Copy)]
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Bars are drawn only when `wanted` and stderr is a terminal.
    pub fn new(wanted: bool) -> Progress {
        Progress { shown: wanted && std::io::stderr().is_terminal() }
    }

    pub fn hidden() -> Progress {
        Progress { shown: false }
    }

    /// A bar for one table of `total` rows.
    pub fn table(&self, name: &str, total: u64) -> Bar {
        if !self.shown {
            return Bar(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{prefix} {pos}/{len} rows [{wide_bar}] {per_sec}, {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(Some(bar))
    }
}

pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    /// Takes the bar off the screen.
    pub fn done(self) {
        if let Some(b) = self.0 {
            b.finish_and_clear();
        }
    }
}
