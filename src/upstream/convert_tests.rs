//! Unit tests of the Ollama ⇄ OpenAI conversion; the expected texts were produced by the
//! reference's own conversion functions on the same input (with the id and time fixed).

use serde_json::json;

use super::*;

const ID: &str = "chatcmpl-00000000-0000-4000-8000-000000000000";
const CREATED: i64 = 1700000000;

fn converted(lines: &[&str]) -> String {
    let mut c = StreamConverter::with_id(ID.into());
    let mut out = String::new();
    for line in lines {
        out.push_str(&c.frame(line.as_bytes(), CREATED).expect("frame").0);
    }
    out.push_str(DONE);
    out
}

#[test]
fn a_streamed_answer_converts_byte_for_byte() {
    let expected = r##"data: {"id": "chatcmpl-00000000-0000-4000-8000-000000000000", "created": 1700000000, "model": "llama3:latest", "choices": [{"index": 0, "logprobs": null, "finish_reason": null, "delta": {"content": "Hel", "role": "assistant"}}], "object": "chat.completion.chunk"}

data: {"id": "chatcmpl-00000000-0000-4000-8000-000000000000", "created": 1700000000, "model": "llama3:latest", "choices": [{"index": 0, "logprobs": null, "finish_reason": null, "delta": {"content": "lo \u00e9\ud83d\ude00"}}], "object": "chat.completion.chunk"}

data: {"id": "chatcmpl-00000000-0000-4000-8000-000000000000", "created": 1700000000, "model": "llama3:latest", "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop", "delta": {}}], "object": "chat.completion.chunk", "usage": {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19, "prompt_tokens": 12, "completion_tokens": 7, "response_token/s": 100.0, "prompt_token/s": 400.0, "total_duration": 5123456789, "load_duration": 1000, "prompt_eval_count": 12, "prompt_eval_duration": 30000000, "eval_count": 7, "eval_duration": 70000000, "approximate_total": "0h0m5s", "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}}

data: [DONE]

"##;
    assert_eq!(
        converted(&[
            r#"{"model": "llama3:latest", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": "Hel"}, "done": false}"#,
            r#"{"model": "llama3:latest", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": "lo é😀"}, "done": false}"#,
            r#"{"model": "llama3:latest", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "total_duration": 5123456789, "load_duration": 1000, "prompt_eval_count": 12, "prompt_eval_duration": 30000000, "eval_count": 7, "eval_duration": 70000000}"#
        ]),
        expected
    );
}

#[test]
fn reasoning_and_tool_calls_convert_byte_for_byte() {
    let expected = r##"data: {"id": "chatcmpl-00000000-0000-4000-8000-000000000000", "created": 1700000000, "model": "qwen3", "choices": [{"index": 0, "logprobs": null, "finish_reason": null, "delta": {"reasoning_content": "Let me think", "role": "assistant"}}], "object": "chat.completion.chunk"}

data: {"id": "chatcmpl-00000000-0000-4000-8000-000000000000", "created": 1700000000, "model": "qwen3", "choices": [{"index": 0, "logprobs": null, "finish_reason": null, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Z\\u00fcrich\", \"days\": 3}"}}]}}], "object": "chat.completion.chunk"}

data: {"id": "chatcmpl-00000000-0000-4000-8000-000000000000", "created": 1700000000, "model": "qwen3", "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls", "delta": {}}], "object": "chat.completion.chunk", "usage": {"input_tokens": 26, "output_tokens": 3, "total_tokens": 29, "prompt_tokens": 26, "completion_tokens": 3, "response_token/s": 41.47, "prompt_token/s": 832.41, "total_duration": 7384000000000, "load_duration": 0, "prompt_eval_count": 26, "prompt_eval_duration": 31234567, "eval_count": 3, "eval_duration": 72345678, "approximate_total": "2h3m4s", "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}}

data: [DONE]

"##;
    assert_eq!(
        converted(&[
            r#"{"model": "qwen3", "message": {"role": "assistant", "content": "", "thinking": "Let me think"}, "done": false}"#,
            r#"{"model": "qwen3", "message": {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Zürich", "days": 3}}}]}, "done": false}"#,
            r#"{"model": "qwen3", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "total_duration": 7384000000000, "prompt_eval_count": 26, "prompt_eval_duration": 31234567, "eval_count": 3, "eval_duration": 72345678}"#
        ]),
        expected
    );
}

#[test]
fn a_whole_answer_converts_with_a_model_id() {
    let answer: Value = serde_json::from_str(r#"{"model": "llama3:latest", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": "Hi there", "thinking": "hmm"}, "done": true, "done_reason": "length", "total_duration": 1500000000, "eval_count": 5, "eval_duration": 0}"#).expect("json");
    let out = answer_to_openai(answer.as_object().expect("object"), CREATED);
    let id = out["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("llama3:latest-"), "{id}");
    let text = pyjson::dumps(&out).replace(&id, "llama3:latest-00000000-0000-4000-8000-000000000000");
    assert_eq!(
        text,
        r##"{"id": "llama3:latest-00000000-0000-4000-8000-000000000000", "created": 1700000000, "model": "llama3:latest", "choices": [{"index": 0, "logprobs": null, "finish_reason": "length", "message": {"role": "assistant", "content": "Hi there", "reasoning_content": "hmm"}}], "object": "chat.completion", "usage": {"input_tokens": 0, "output_tokens": 5, "total_tokens": 5, "prompt_tokens": 0, "completion_tokens": 5, "response_token/s": "N/A", "prompt_token/s": "N/A", "total_duration": 1500000000, "load_duration": 0, "prompt_eval_count": 0, "prompt_eval_duration": 0, "eval_count": 5, "eval_duration": 0, "approximate_total": "0h0m1s", "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}}"##
    );
}

#[test]
fn lines_that_are_not_objects_fail() {
    let mut c = StreamConverter::default();
    assert!(c.frame(b"not json", 1).is_err());
    assert!(c.frame(b"[1]", 1).is_err());
    let (frame, chunk) = c.frame(br#"{"message": {"content": "x"}}"#, 1).expect("frame");
    assert!(chunk["id"].as_str().is_some_and(|id| id.starts_with("chatcmpl-")));
    assert!(frame.starts_with("data: {") && frame.ends_with("}\n\n"));
    assert_eq!(chunk["model"], "ollama");
}

#[test]
fn requests_convert_as_the_reference() {
    let payload = json!({
        "model": "llama3", "stream": true, "max_tokens": 50, "stop": ["\n"],
        "options": {"temperature": 0.5, "format": "{\"type\": \"object\"}", "keep_alive": "5m", "think": true, "system": "S", "max_tokens": 9},
        "tools": [{"type": "function"}],
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        "messages": [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": [{"type": "text", "text": " look "}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}, {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]},
            {"role": "assistant", "content": null, "reasoning_content": "hm", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
            {"role": "tool", "content": "42", "tool_call_id": "c1"}
        ]
    });
    let out = Value::Object(payload_to_ollama(payload.as_object().expect("object")));
    assert_eq!(
        out,
        json!({
            "model": "llama3",
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": "look", "images": ["AAAA", "http://x/y.png"]},
                {"role": "assistant", "thinking": "hm", "tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": {"a": 1}}}], "content": ""},
                {"role": "tool", "content": "42", "tool_call_id": "c1"}
            ],
            "stream": true,
            "tools": [{"type": "function"}],
            "options": {"temperature": 0.5, "num_predict": 50, "stop": ["\n"]},
            "format": {"type": "object"},
            "keep_alive": "5m",
            "think": true,
            "system": "S"
        })
    );
    let keys: Vec<&String> = out.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["model", "messages", "stream", "tools", "options", "format", "keep_alive", "think", "system"]
    );
}

#[test]
fn usage_rates_round_as_python() {
    let u = ollama_usage(
        json!({"eval_count": 3, "eval_duration": 72345678, "total_duration": 3725.9e9})
            .as_object()
            .expect("o"),
    );
    assert_eq!(u["response_token/s"], json!(41.47));
    assert_eq!(u["prompt_token/s"], "N/A");
    assert_eq!(u["approximate_total"], "1.0h2.0m5.0s");
}
