//! Relay-style pages: opaque offset cursors, `first` checked against the page bound, the cost of
//! list fields, and connections built from one service page (`async_graphql::connection`, with
//! `totalCount`).

use async_graphql::connection::{Connection, DisableNodesField, Edge, EmptyFields};
use async_graphql::{ErrorExtensions, OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, ErrorCode};

/// Items per page when `first` is not given, and the most a page may hold.
pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 200;

/// The highest offset a cursor may name: far beyond any list, far below where arithmetic on it
/// could overflow.
pub const MAX_CURSOR_OFFSET: i64 = 1_000_000_000_000;

/// What an unpaged list field (`Chat.tags`, `Chat.models`, `User.models`) is assumed to hold
/// when its cost is estimated.
pub const UNPAGED_LIST_COST: usize = 10;

/// An opaque cursor for the item at `offset`.
pub fn cursor(offset: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// The cost of a paged list field: its page size (`first`, or the default page) times the cost of
/// what each item selects, plus one. Saturates far below `usize::MAX`, so sums cannot overflow.
pub fn list_cost(first: Option<i32>, child: usize) -> usize {
    let page = first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize;
    page.saturating_mul(child).saturating_add(1).min(u32::MAX as usize)
}

/// The cost of an unpaged list field.
pub fn unpaged_list_cost(child: usize) -> usize {
    UNPAGED_LIST_COST.saturating_mul(child).saturating_add(1).min(u32::MAX as usize)
}

/// The window a `first`/`after` pair asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: i64,
    pub offset: i64,
}

impl Window {
    /// `first` checked against `MAX_PAGE` (default `DEFAULT_PAGE`), and the offset after `after`
    /// (0 without a cursor). Only cursors this server could have made are accepted: `o:<n>` with
    /// `0 <= n <= MAX_CURSOR_OFFSET`, in unpadded URL-safe base64.
    pub fn new(first: Option<i32>, after: Option<&str>) -> async_graphql::Result<Window> {
        Ok(Window { limit: page_size(first)?, offset: offset_after(after)? })
    }
}

fn offset_after(after: Option<&str>) -> async_graphql::Result<i64> {
    let Some(after) = after else { return Ok(0) };
    URL_SAFE_NO_PAD
        .decode(after)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let digits = s.strip_prefix("o:")?;
            if digits.is_empty() || digits.len() > 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<i64>().ok()
        })
        .filter(|n| (0..=MAX_CURSOR_OFFSET).contains(n))
        .map(|n| n + 1)
        .ok_or_else(|| AppError::bad_request_with(ErrorCode::ValidationError, "Invalid cursor.").extend())
}

fn page_size(first: Option<i32>) -> async_graphql::Result<i64> {
    match first {
        None => Ok(DEFAULT_PAGE as i64),
        Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(n as i64),
        Some(_) => Err(AppError::bad_request_with(
            ErrorCode::ValidationError,
            format!("`first` must be between 0 and {MAX_PAGE}."),
        )
        .extend()),
    }
}

/// What every connection adds to its edges and page info.
#[derive(SimpleObject)]
pub struct PageTotal {
    /// How many items the whole list holds.
    pub total_count: i64,
}

/// A page of `N`: `edges { cursor node }`, `pageInfo`, `totalCount` (the type is `NConnection`,
/// its edges `NEdge`).
pub type Page<N> = Connection<String, N, PageTotal, EmptyFields, DefaultName, DefaultEdge, DisableNodesField>;
type DefaultName = async_graphql::connection::DefaultConnectionName;
type DefaultEdge = async_graphql::connection::DefaultEdgeName;

/// The connection of `items`, which start at `window.offset` of a list of `total`.
pub fn page<N: OutputType>(window: Window, items: Vec<N>, total: i64) -> Page<N> {
    let end = window.offset + items.len() as i64;
    let mut page =
        Connection::with_additional_fields(window.offset > 0, end < total, PageTotal { total_count: total });
    page.edges.extend(
        items.into_iter().enumerate().map(|(i, node)| Edge::new(cursor(window.offset + i as i64), node)),
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        assert_eq!(Window::new(None, None).expect("default window"), Window { limit: 50, offset: 0 });
        assert_eq!(
            Window::new(Some(3), Some(&cursor(9))).expect("window after a cursor"),
            Window { limit: 3, offset: 10 }
        );
        assert!(Window::new(Some(201), None).is_err());
        assert!(Window::new(Some(-1), None).is_err());
        for forged in ["o:9223372036854775807", "o:-1", "o:", "x:1", "o:1e3"] {
            assert!(Window::new(None, Some(&URL_SAFE_NO_PAD.encode(forged))).is_err(), "{forged}");
        }
        assert!(Window::new(None, Some(&cursor(MAX_CURSOR_OFFSET))).is_ok());
        assert!(Window::new(None, Some("not base64!")).is_err());
    }

    #[test]
    fn list_costs_multiply_and_saturate() {
        assert_eq!(list_cost(None, 2), 101);
        assert_eq!(list_cost(Some(500), 1), 201);
        assert_eq!(list_cost(Some(200), usize::MAX), u32::MAX as usize);
        assert_eq!(unpaged_list_cost(3), 31);
    }
}
