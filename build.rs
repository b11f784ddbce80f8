//! Rebuilds the crate when a migration changes (they are embedded with `sqlx::migrate!`), and
//! tells the integration tests which external services they may not count on.
//!
//! A test that needs PostgreSQL, Redis or the headless browser is compiled with
//! `#[cfg_attr(duet_no_pg, ignore = "...")]` (and `duet_no_redis`, `duet_no_browser`), so that
//! `cargo test` reports it as *ignored* — never as passed — when its variable is not set. Under CI
//! (`CI` set to anything but empty, `0` or `false`) nothing is ignored: a missing service fails
//! the test instead. Changing one of these variables re-runs this script and rebuilds the crate;
//! an unchanged environment rebuilds nothing.
fn main() {
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    for (cfg, var) in [
        ("duet_no_pg", "DUET_TEST_DATABASE_URL"),
        ("duet_no_redis", "DUET_TEST_REDIS_URL"),
        ("duet_no_browser", "DUET_TEST_BROWSER"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let set = std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
        if !set && !ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
