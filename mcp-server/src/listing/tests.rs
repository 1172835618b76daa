use rmcp::model::{ListToolsResult, NumberOrString, ServerJsonRpcMessage, ServerResult};

use super::*;

/// rmcp's own answer to a `tools/list` with `tools`, for a peer on the legacy protocol
/// versions (`legacy`) or on 2026-07-28, as its server handler and HTTP transport write it.
fn rmcp_answer(id: NumberOrString, tools: Vec<rmcp::model::Tool>, legacy: bool) -> Vec<u8> {
    let mut result = ServerResult::ListToolsResult(ListToolsResult::with_all_items(tools));
    if legacy {
        result.strip_result_type_for_legacy_peer();
        result.strip_non_object_output_for_legacy_peer();
    } else {
        result.fill_missing_cache_hints();
    }
    serde_json::to_vec(&ServerJsonRpcMessage::response(result, id)).expect("serialises")
}

fn every_tool() -> Vec<&'static ToolSpec> {
    tools::all().collect()
}

#[tokio::test]
async fn a_spliced_answer_is_byte_for_byte_rmcps_own() {
    let listings = Listings::default();
    let ids = [
        NumberOrString::Number(1),
        NumberOrString::Number(9_007_199_254_740_993),
        NumberOrString::String("a \"quoted\" id ✓".into()),
    ];
    let subsets: [Vec<&'static ToolSpec>; 3] = [
        every_tool(),
        every_tool().into_iter().step_by(3).collect(),
        Vec::new(),
    ];
    for specs in &subsets {
        let serialized = listings.serialized(specs).await.expect("keyed");
        let tools: Vec<_> = specs.iter().map(|s| s.to_tool()).collect();
        for id in &ids {
            for legacy in [true, false] {
                let empty = rmcp_answer(id.clone(), Vec::new(), legacy);
                let spliced = splice(Bytes::from(empty), serialized.clone())
                    .expect("an empty tools/list answer")
                    .to_bytes();
                let own = rmcp_answer(id.clone(), tools.clone(), legacy);
                assert_eq!(
                    std::str::from_utf8(&spliced).expect("utf-8"),
                    std::str::from_utf8(&own).expect("utf-8"),
                    "{} tools, id {id:?}, legacy {legacy}",
                    specs.len()
                );
            }
        }
    }
}

#[tokio::test]
async fn each_set_of_tools_has_its_own_entry() {
    let listings = Listings::default();
    let all = every_tool();
    let first = listings.serialized(&all[..1]).await.expect("keyed");
    let both = listings.serialized(&all[..2]).await.expect("keyed");
    let second = listings.serialized(&all[1..2]).await.expect("keyed");
    let names = |b: &Bytes| -> Vec<String> {
        serde_json::from_slice::<Vec<rmcp::model::Tool>>(b)
            .expect("tools")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    };
    assert_eq!(names(&first), [all[0].name]);
    assert_eq!(names(&both), [all[0].name, all[1].name]);
    assert_eq!(names(&second), [all[1].name]);
    // The same set again is the same bytes (not serialised anew).
    let again = listings.serialized(&all[..2]).await.expect("keyed");
    assert_eq!(again.as_ptr(), both.as_ptr());
}

#[test]
fn sets_out_of_table_order_or_of_unknown_tools_have_no_key() {
    let all = every_tool();
    assert!(key(&[all[1], all[0]]).is_none());
    let stray: &'static ToolSpec = Box::leak(Box::new(ToolSpec {
        name: "not_in_the_table",
        ..clone_spec(all[0])
    }));
    assert!(key(&[stray]).is_none());
    // A copy of a table entry at another address is the same tool.
    let copy: &'static ToolSpec = Box::leak(Box::new(clone_spec(all[2])));
    assert_eq!(key(&[all[0], copy]), key(&[all[0], all[2]]));
    assert_eq!(key(&[]), Some(0));
    assert!(
        tools::all().count() <= 128,
        "the listing key has 128 bits: widen it"
    );
}

fn clone_spec(spec: &ToolSpec) -> ToolSpec {
    ToolSpec {
        name: spec.name,
        title: spec.title,
        description: spec.description,
        scopes: spec.scopes,
        any_of: spec.any_of,
        read_only: spec.read_only,
        destructive: spec.destructive,
        idempotent: spec.idempotent,
        open_world: spec.open_world,
        schema: spec.schema,
        output: spec.output,
        requires: spec.requires,
        handler: spec.handler,
    }
}

#[test]
fn only_an_empty_tools_list_answer_is_spliced() {
    let tools = Bytes::from_static(br#"[{"name":"x"}]"#);
    for other in [
        &br#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#[..],
        br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}"#,
        br#"data: {"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#,
        b"",
    ] {
        let answer = Bytes::copy_from_slice(other);
        assert!(
            splice(answer, tools.clone()).is_none(),
            "{}",
            String::from_utf8_lossy(other)
        );
    }
    for (empty, full) in [
        (
            &br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#[..],
            &br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"x"}]}}"#[..],
        ),
        (
            br#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","tools":[]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","tools":[{"name":"x"}]}}"#,
        ),
    ] {
        let spliced = splice(Bytes::copy_from_slice(empty), tools.clone()).expect("spliced");
        assert_eq!(spliced.to_bytes(), Bytes::copy_from_slice(full));
        assert_eq!(spliced.len(), full.len());
    }
}

/// The body streams its three parts, the cached array itself (not a copy), and says its length.
#[actix_web::test]
async fn the_body_streams_the_cached_array_itself() {
    let tools = Bytes::from(br#"[{"name":"x"}]"#.to_vec());
    let answer = Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#);
    let body = splice(answer, tools.clone()).expect("spliced");
    assert_eq!(
        body.size(),
        BodySize::Sized(
            br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"x"}]}}"#.len() as u64
        )
    );
    let mut body = std::pin::pin!(body);
    let mut chunks = Vec::new();
    while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        chunks.push(chunk.expect("infallible"));
    }
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1].as_ptr(), tools.as_ptr(), "shared, not copied");
    assert_eq!(
        chunks.concat(),
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"x"}]}}"#
    );
}

#[test]
fn a_slot_gives_up_what_the_handler_left_once() {
    let slot = ListingSlot::default();
    let handed = slot.clone();
    assert!(handed.fill(Bytes::from_static(b"[]")));
    assert!(!handed.fill(Bytes::from_static(b"[1]")), "filled once");
    assert_eq!(slot.taken(), Some(Bytes::from_static(b"[]")));
    assert_eq!(ListingSlot::default().taken(), None);
}
