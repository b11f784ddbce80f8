//! The limits of GraphQL subscriptions over WebSocket (`GRAPHQL_WS_*`).

use std::time::Duration;

use super::ConfigError;
use super::env::Env;

/// Limits of GraphQL subscriptions over WebSocket (`GET /graphql` with `Upgrade: websocket`).
#[derive(Debug, Clone)]
pub struct GraphqlWsLimits {
    /// Open subscription sockets per user on one instance
    /// (`GRAPHQL_WS_MAX_CONNECTIONS_PER_USER`, default 20; `0` = no limit).
    pub max_connections_per_user: usize,
    /// Running subscriptions on one socket (`GRAPHQL_WS_MAX_SUBSCRIPTIONS`, default 50; `0` = no
    /// limit).
    pub max_subscriptions: usize,
    /// How long a socket may stay open before its `connection_init` (`GRAPHQL_WS_INIT_TIMEOUT`,
    /// seconds, default 10; `0` = no limit).
    pub init_timeout: Option<Duration>,
}

impl GraphqlWsLimits {
    pub(super) fn read(env: &Env) -> Result<GraphqlWsLimits, ConfigError> {
        Ok(GraphqlWsLimits {
            max_connections_per_user: env.number::<usize>("GRAPHQL_WS_MAX_CONNECTIONS_PER_USER", 20)?,
            max_subscriptions: env.number::<usize>("GRAPHQL_WS_MAX_SUBSCRIPTIONS", 50)?,
            init_timeout: env.timeout("GRAPHQL_WS_INIT_TIMEOUT", 10)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Config;

    #[test]
    fn subscription_limits_have_defaults_and_read_their_variables() {
        let c = Config::from_map(&HashMap::new()).expect("defaults");
        assert_eq!(c.graphql_ws.max_connections_per_user, 20);
        assert_eq!(c.graphql_ws.max_subscriptions, 50);
        assert_eq!(c.graphql_ws.init_timeout, Some(Duration::from_secs(10)));
        let vars: HashMap<String, String> = [
            ("GRAPHQL_WS_MAX_CONNECTIONS_PER_USER", "0"),
            ("GRAPHQL_WS_MAX_SUBSCRIPTIONS", "3"),
            ("GRAPHQL_WS_INIT_TIMEOUT", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = Config::from_map(&vars).expect("set");
        assert_eq!((c.graphql_ws.max_connections_per_user, c.graphql_ws.max_subscriptions), (0, 3));
        assert_eq!(c.graphql_ws.init_timeout, None);
        let bad: HashMap<String, String> =
            [("GRAPHQL_WS_MAX_SUBSCRIPTIONS".to_string(), "many".to_string())].into();
        assert!(Config::from_map(&bad).is_err());
    }
}
