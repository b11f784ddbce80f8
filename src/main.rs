//! The `duet` command line: `serve` (default), `migrate`, `export-schema`, `export-openapi`,
//! `create-admin`, `copy` and `import-openwebui`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// mimalloc: request handling allocates many short-lived small objects across two worker threads,
/// where it is markedly cheaper than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use duet::config::{Config, LogFormat};
use duet::{App, build_router};

/// An Open WebUI-compatible API server (REST under /api/v1).
///
/// Every setting is an environment variable named as in Open WebUI (see docs/configuration.md);
/// flags override HOST and PORT.
#[derive(Parser)]
#[command(name = "duet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default command).
    Serve {
        /// Address to listen on [env: HOST, default 127.0.0.1].
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on [env: PORT, default 8080].
        #[arg(long)]
        port: Option<u16>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit; `schema/schema.graphql` is this output.
    ExportSchema,
    /// Print the OpenAPI document of the REST routes and exit; `schema/openapi.json` is this output.
    ExportOpenapi,
    /// Create an admin account (when the email is free) and exit.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Admin")]
        name: String,
        /// The password; read from DUET_ADMIN_PASSWORD when omitted.
        #[arg(long, env = "DUET_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Copy every table of a duet database into another one (SQLite ⇄ PostgreSQL), then compare
    /// row counts and checksums. Run it again after an interruption to resume (see docs/migrating.md).
    Copy {
        /// The database to read (sqlite:///path/webui.db or postgres://user:pass@host/db); never written.
        #[arg(long)]
        from: String,
        /// The database to write; duet's migrations are applied to it first.
        #[arg(long)]
        to: String,
        /// Into a target that holds data: add the rows it lacks, keep (and report) the ones it has.
        #[arg(long, conflicts_with = "replace")]
        merge: bool,
        /// Empty the target's tables first.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Import an Open WebUI 0.12 database (users, credentials, API keys, chats, folders, tags,
    /// models, groups, access grants, admin settings) into duet (see docs/migrating.md).
    ImportOpenwebui {
        /// The Open WebUI database (sqlite:///path/webui.db or postgres://…); never written.
        #[arg(long)]
        from: String,
        /// The duet database to write [default: DATABASE_URL].
        #[arg(long)]
        to: Option<String>,
        /// Into a duet database that holds data: add what it lacks; conflicting ids or emails are
        /// reported and left as they are.
        #[arg(long)]
        merge: bool,
        /// With --merge: rows whose id is already there are replaced by Open WebUI's.
        #[arg(long, requires = "merge")]
        overwrite: bool,
        #[command(flatten)]
        run: RunFlags,
    },
}

/// Flags shared by `copy` and `import-openwebui`.
#[derive(clap::Args)]
struct RunFlags {
    /// Read, check and count everything, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON on stdout (instead of a line per table).
    #[arg(long)]
    json: bool,
    /// Rows per batch; each batch is one transaction.
    #[arg(long, default_value_t = duet::migrate::DEFAULT_BATCH_ROWS as u32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,
}

/// Logs go to stdout: `RUST_LOG` filters (default `info,sqlx=warn`); `LOG_FORMAT=json` writes one
/// JSON object per line with the event's fields and its request span. Colours only on a terminal.
/// The tools (`copy`, `import-openwebui`) log to stderr instead: their stdout is the report.
fn init_tracing(format: LogFormat, to_stderr: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    if to_stderr {
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        return match format {
            LogFormat::Json => builder.json().with_span_list(false).init(),
            LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        };
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().with_span_list(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("duet: {e}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve { host: None, port: None });
    init_tracing(
        config.log_format,
        matches!(command, Command::Copy { .. } | Command::ImportOpenwebui { .. }),
    );
    let result = match command {
        Command::Serve { host, port } => {
            if let Some(h) = host {
                config.host = h;
            }
            if let Some(p) = port {
                config.port = p;
            }
            serve(config).await
        }
        Command::Migrate => migrate(config).await,
        Command::ExportSchema => {
            print!("{}", duet::graphql::sdl());
            Ok(())
        }
        Command::ExportOpenapi => {
            print!("{}", duet::rest::openapi::json());
            Ok(())
        }
        Command::CreateAdmin { email, name, password } => {
            config.bootstrap_admin = None;
            create_admin(config, email, name, password).await
        }
        Command::Copy { from, to, merge, replace, run } => {
            let opts = duet::migrate::CopyOptions {
                merge,
                replace,
                dry_run: run.dry_run,
                batch_rows: run.batch_size as usize,
                progress: true,
                ..duet::migrate::CopyOptions::new(&from, &to)
            };
            finish_tool(duet::migrate::copy::run(&opts).await, run.json)
        }
        Command::ImportOpenwebui { from, to, merge, overwrite, run } => {
            let to = to.unwrap_or_else(|| config.database_url.clone());
            let opts = duet::migrate::ImportOptions {
                merge,
                overwrite,
                dry_run: run.dry_run,
                batch_rows: run.batch_size as usize,
                progress: true,
                ..duet::migrate::ImportOptions::new(&from, &to)
            };
            finish_tool(duet::migrate::openwebui::run(&opts).await, run.json)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("duet: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a tool's report (JSON or a line per table); a report that is not `ok` fails the
/// command after it is printed.
fn finish_tool(
    result: Result<duet::migrate::Report, duet::migrate::Error>,
    json: bool,
) -> Result<(), String> {
    let report = result.map_err(|e| e.to_string())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", report.summary());
    }
    if report.ok {
        Ok(())
    } else {
        Err(format!("{}: not everything arrived; the report lists each row", report.command))
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let addr: SocketAddr = format!("{}:{}", config.host, config.port)
        .parse()
        .map_err(|e| format!("invalid HOST/PORT {}:{}: {e}", config.host, config.port))?;
    let app = App::init(config).await.map_err(|e| e.report())?;
    let state = app.into_state();
    let router = build_router(state.clone());
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "duet listening");
    // On SIGTERM/SIGINT the listener stops accepting, in-flight requests run to completion for
    // at most SHUTDOWN_TIMEOUT, then the pool closes (after the last connection is returned).
    let (stopping, mut stop_seen) = tokio::sync::watch::channel(false);
    let limits = duet::http::server::ConnectionLimits::from_config(&state.config);
    let server = duet::http::server::run(listener, router, limits, async move {
        shutdown_signal().await;
        let _ = stopping.send(true);
    });
    let grace = state.config.shutdown_timeout;
    let deadline = async move {
        let _ = stop_seen.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.map_err(|e| format!("server error: {e}"))?,
        () = deadline => {
            tracing::warn!(timeout_s = grace.as_secs(), "requests still running after SHUTDOWN_TIMEOUT; stopping anyway");
        }
    }
    if tokio::time::timeout(Duration::from_secs(5), state.db.close()).await.is_err() {
        tracing::warn!("database connections did not close within 5 s");
    }
    tracing::info!("duet stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

async fn migrate(config: Config) -> Result<(), String> {
    let db = duet::store::Db::connect(&config.database_url, 1, config.database_pool_timeout)
        .await
        .map_err(|e| e.report())?;
    db.migrate().await.map_err(|e| e.report())?;
    println!("migrations applied");
    Ok(())
}

async fn create_admin(
    mut config: Config,
    email: String,
    name: String,
    password: String,
) -> Result<(), String> {
    config.bootstrap_admin = None;
    let app = App::init(config).await.map_err(|e| e.report())?;
    let user =
        duet::service::auths::create_admin(&app, &email, &name, &password).await.map_err(|e| e.report())?;
    println!("admin {} created", user.email);
    Ok(())
}
