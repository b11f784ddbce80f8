//! The `duet` command line: `serve` (default), `migrate`, `export-schema`, `create-admin`.

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
}

/// Logs go to stdout: `RUST_LOG` filters (default `info,sqlx=warn`); `LOG_FORMAT=json` writes one
/// JSON object per line with the event's fields and its request span. Colours only on a terminal.
fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
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
    init_tracing(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve { host: None, port: None }) {
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("duet: {message}");
            ExitCode::FAILURE
        }
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
