"""Real clients against `copilot-host serve --simulator`: each protocol driven by its official
Python client. Run through scripts/real-clients.sh, which installs the pinned clients.

One line per check (`ok`, `FAIL` or `skip`), then `N passed, N failed, N skipped`. A protocol
whose route this build does not serve (probed first) is skipped, not failed. Exit status 1 on
any failure.
"""

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import anthropic
import ollama
import openai

# Models of the simulator's catalog: one answered through Copilot's chat-completions API, one
# through its Responses API (with reasoning), one Claude model.
CHAT_MODEL = "gpt-4.1"
RESPONSES_MODEL = "gpt-5"
CLAUDE_MODEL = "claude-sonnet-4"
# A 1x1 PNG.
PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
STARTUP_TIMEOUT_S = 300


class Skip(Exception):
    """The check cannot run here (its route is not served by this build)."""


class Checks:
    def __init__(self, pattern):
        self.pattern = pattern
        self.passed = self.failed = self.skipped = 0

    def run(self, name, fn):
        if self.pattern and self.pattern not in name:
            return
        try:
            fn()
        except Skip as why:
            self.skipped += 1
            print(f"skip {name}: {why}", flush=True)
        except Exception as error:  # a failed check of any kind is one line, then the next
            self.failed += 1
            detail = f"{type(error).__name__}: {error}".replace("\n", " ")[:300]
            print(f"FAIL {name}: {detail}", flush=True)
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def expect_error(kind, call, status):
    try:
        call()
    except kind as error:
        got = getattr(error, "status_code", None)
        check(got == status, f"status {got}, wanted {status}")
        return error
    raise AssertionError(f"no {kind.__name__} raised")


def route_exists(base, method, path, key, body=None):
    """False when the server answers 404 for `path` (a route of another build)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30):
            return True
    except urllib.error.HTTPError as error:
        return error.code != 404


# --- OpenAI Chat Completions ----------------------------------------------------------------


def openai_checks(checks, base, key):
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
    weather = [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA},
        }
    ]

    def models():
        ids = [m.id for m in client.models.list()]
        check(CHAT_MODEL in ids, f"{CHAT_MODEL} not in {ids}")

    def whole():
        answer = client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "hello whole"}]
        )
        check("hello whole" in answer.choices[0].message.content, answer.choices[0].message.content)
        check(answer.choices[0].finish_reason == "stop", answer.choices[0].finish_reason)
        check(answer.usage.total_tokens > 0, answer.usage)

    def streamed():
        text, finish, usage = "", None, None
        for chunk in client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "hello stream"}],
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        check("hello stream" in text, text)
        check(finish == "stop", finish)
        check(usage is not None and usage.prompt_tokens > 0, usage)

    def tools():
        messages = [{"role": "user", "content": "weather in Paris?"}]
        answer = client.chat.completions.create(model=CHAT_MODEL, messages=messages, tools=weather)
        calls = answer.choices[0].message.tool_calls or []
        check(len(calls) == 2, f"{len(calls)} tool calls")
        check(answer.choices[0].finish_reason == "tool_calls", answer.choices[0].finish_reason)
        json.loads(calls[0].function.arguments)
        messages.append(answer.choices[0].message.model_dump(exclude_none=True))
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
        follow = client.chat.completions.create(model=CHAT_MODEL, messages=messages, tools=weather)
        check(follow.choices[0].message.content, "no text after the tool results")

    def image():
        answer = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_BASE64}"}},
                    ],
                }
            ],
        )
        check(answer.choices[0].message.content, "no answer")

    def wrong_key():
        bad = openai.OpenAI(base_url=f"{base}/v1", api_key="cph-wrong", max_retries=0)
        expect_error(
            openai.AuthenticationError,
            lambda: bad.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}]),
            401,
        )

    def refused_n():
        error = expect_error(
            openai.BadRequestError,
            lambda: client.chat.completions.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}], n=2
            ),
            400,
        )
        check("`n`" in str(error), str(error))

    checks.run("openai chat: models list", models)
    checks.run("openai chat: whole answer", whole)
    checks.run("openai chat: streamed answer with usage", streamed)
    checks.run("openai chat: parallel tool calls and results", tools)
    checks.run("openai chat: image", image)
    checks.run("openai chat: wrong key is 401", wrong_key)
    checks.run("openai chat: n=2 is a 400 naming n", refused_n)


# --- OpenAI Responses -----------------------------------------------------------------------


def responses_checks(checks, base, key):
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
    weather = [{"type": "function", "name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA}]

    def whole():
        response = client.responses.create(model=CHAT_MODEL, instructions="be brief", input="hello responses")
        check(response.status == "completed", response.status)
        check("hello responses" in response.output_text, response.output_text)
        check(response.usage.total_tokens > 0, response.usage)

    def streamed():
        kinds, text, final = [], "", None
        for event in client.responses.create(model=RESPONSES_MODEL, input="hello stream", stream=True, store=False):
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
            if event.type == "response.completed":
                final = event.response
        check(kinds[:2] == ["response.created", "response.in_progress"], kinds[:2])
        check("response.reasoning_summary_text.delta" in kinds, kinds)
        check(final is not None and final.output_text == text, "deltas differ from the final text")
        check("hello stream" in text, text)
        # A stateless agent sends the whole output back, encrypted reasoning included.
        reasoning = [item for item in final.output if item.type == "reasoning"]
        check(reasoning and reasoning[0].encrypted_content, "no encrypted reasoning")
        again = client.responses.create(
            model=RESPONSES_MODEL,
            input=[{"role": "user", "content": "hello stream"}]
            + [item.model_dump(exclude_none=True) for item in final.output]
            + [{"role": "user", "content": "and again"}],
            store=False,
        )
        check("and again" in again.output_text, again.output_text)

    def function_tool():
        first = client.responses.create(model=CHAT_MODEL, input="weather in Paris?", tools=weather)
        calls = [item for item in first.output if item.type == "function_call"]
        check(len(calls) == 2, f"{len(calls)} function calls")
        json.loads(calls[0].arguments)
        follow_input = [{"role": "user", "content": "weather in Paris?"}]
        follow_input += [call.model_dump(exclude_none=True) for call in calls]
        follow_input += [{"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls]
        follow = client.responses.create(model=CHAT_MODEL, input=follow_input, tools=weather)
        check(follow.output_text, "no text after the function outputs")

    def streamed_function_tool():
        kinds, done = [], []
        with client.responses.stream(model=CHAT_MODEL, input="weather in Paris?", tools=weather) as stream:
            for event in stream:
                kinds.append(event.type)
            done = [item for item in stream.get_final_response().output if item.type == "function_call"]
        check("response.function_call_arguments.delta" in kinds, kinds)
        check(len(done) == 2, f"{len(done)} function calls")

    def image():
        response = client.responses.create(
            model=CHAT_MODEL,
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is this"},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_BASE64}"},
                    ],
                }
            ],
        )
        check(response.output_text, "no answer")

    def stateful_refused():
        error = expect_error(
            openai.BadRequestError,
            lambda: client.responses.create(model=CHAT_MODEL, input="x", previous_response_id="resp_1"),
            400,
        )
        check("previous_response_id" in str(error), str(error))

    def wrong_key():
        bad = openai.OpenAI(base_url=f"{base}/v1", api_key="cph-wrong", max_retries=0)
        expect_error(openai.AuthenticationError, lambda: bad.responses.create(model=CHAT_MODEL, input="x"), 401)

    checks.run("openai responses: whole response", whole)
    checks.run("openai responses: streamed, reasoning sent back", streamed)
    checks.run("openai responses: function tool and outputs", function_tool)
    checks.run("openai responses: streamed function calls (responses.stream)", streamed_function_tool)
    checks.run("openai responses: image", image)
    checks.run("openai responses: previous_response_id is a 400", stateful_refused)
    checks.run("openai responses: wrong key is 401", wrong_key)


# --- Anthropic Messages ---------------------------------------------------------------------


def anthropic_checks(checks, base, key):
    served = route_exists(base, "POST", "/v1/messages", key, {})
    client = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
    weather = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]

    def needs_route(fn):
        def run():
            if not served:
                raise Skip("this build does not serve /v1/messages")
            fn()

        return run

    def whole():
        message = client.messages.create(
            model=CLAUDE_MODEL,
            max_tokens=256,
            system="be brief",
            messages=[{"role": "user", "content": "hello anthropic"}],
        )
        text = "".join(block.text for block in message.content if block.type == "text")
        check("hello anthropic" in text, text)
        check(message.stop_reason == "end_turn", message.stop_reason)
        check(message.usage.output_tokens > 0, message.usage)

    def streamed():
        with client.messages.stream(
            model=CLAUDE_MODEL, max_tokens=256, messages=[{"role": "user", "content": "hello stream"}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        check("hello stream" in text, text)
        check(final.stop_reason == "end_turn", final.stop_reason)

    def tools():
        messages = [{"role": "user", "content": "weather in Paris?"}]
        first = client.messages.create(model=CLAUDE_MODEL, max_tokens=256, messages=messages, tools=weather)
        uses = [block for block in first.content if block.type == "tool_use"]
        check(len(uses) == 2, f"{len(uses)} tool uses")
        check(first.stop_reason == "tool_use", first.stop_reason)
        check(isinstance(uses[0].input, dict), uses[0].input)
        messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]})
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"} for use in uses],
            }
        )
        follow = client.messages.create(model=CLAUDE_MODEL, max_tokens=256, messages=messages, tools=weather)
        check(any(block.type == "text" for block in follow.content), follow.content)

    def image():
        message = client.messages.create(
            model=CLAUDE_MODEL,
            max_tokens=256,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}},
                    ],
                }
            ],
        )
        check(message.content, "no answer")

    def wrong_key():
        bad = anthropic.Anthropic(base_url=base, api_key="cph-wrong", max_retries=0)
        expect_error(
            anthropic.AuthenticationError,
            lambda: bad.messages.create(
                model=CLAUDE_MODEL, max_tokens=16, messages=[{"role": "user", "content": "x"}]
            ),
            401,
        )

    checks.run("anthropic messages: whole message", needs_route(whole))
    checks.run("anthropic messages: streamed message", needs_route(streamed))
    checks.run("anthropic messages: tool use and results", needs_route(tools))
    checks.run("anthropic messages: image", needs_route(image))
    checks.run("anthropic messages: wrong key is 401", needs_route(wrong_key))


# --- Ollama ---------------------------------------------------------------------------------


def ollama_checks(checks, base, key):
    served = route_exists(base, "GET", "/api/version", key)
    client = ollama.Client(host=base, headers={"Authorization": f"Bearer {key}"})
    weather = [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA},
        }
    ]

    def needs_route(fn):
        def run():
            if not served:
                raise Skip("this build does not serve the Ollama API")
            fn()

        return run

    def listed():
        names = [m.model for m in client.list().models]
        check(any(name.startswith(CHAT_MODEL) for name in names), names)

    def shown():
        info = client.show(CHAT_MODEL)
        check("completion" in (info.capabilities or []), info.capabilities)
        check("tools" in (info.capabilities or []), info.capabilities)
        model_info = info.modelinfo or {}
        architecture = model_info.get("general.architecture")
        check(architecture, model_info)
        check(model_info.get(f"{architecture}.context_length", 0) > 0, model_info)

    def whole():
        answer = client.chat(model=CHAT_MODEL, messages=[{"role": "user", "content": "hello ollama"}])
        check("hello ollama" in answer.message.content, answer.message.content)
        check(answer.done, "not done")

    def streamed():
        parts = list(client.chat(model=CHAT_MODEL, messages=[{"role": "user", "content": "hello stream"}], stream=True))
        text = "".join(part.message.content or "" for part in parts)
        check("hello stream" in text, text)
        check(parts[-1].done, "the last part is not done")

    def tools():
        answer = client.chat(model=CHAT_MODEL, messages=[{"role": "user", "content": "weather in Paris?"}], tools=weather)
        calls = answer.message.tool_calls or []
        check(len(calls) == 2, f"{len(calls)} tool calls")
        check(calls[0].function.name == "get_weather", calls[0].function.name)
        check(isinstance(calls[0].function.arguments, dict), calls[0].function.arguments)

    def image():
        answer = client.chat(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "what is this", "images": [PNG_BASE64]}]
        )
        check(answer.message.content, "no answer")

    def wrong_key():
        bad = ollama.Client(host=base, headers={"Authorization": "Bearer cph-wrong"})
        expect_error(ollama.ResponseError, lambda: bad.list(), 401)

    checks.run("ollama: list", needs_route(listed))
    checks.run("ollama: show (capabilities, context length)", needs_route(shown))
    checks.run("ollama: chat whole", needs_route(whole))
    checks.run("ollama: chat streamed", needs_route(streamed))
    checks.run("ollama: chat with tools", needs_route(tools))
    checks.run("ollama: image", needs_route(image))
    checks.run("ollama: wrong key is 401", needs_route(wrong_key))


def start_server(host, extension):
    """`serve --simulator --json`; its first stdout line says where and with which key."""
    server = subprocess.Popen(
        [host, "--extension", extension, "serve", "--simulator", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    first_line = []
    reader = threading.Thread(target=lambda: first_line.append(server.stdout.readline()), daemon=True)
    reader.start()
    reader.join(STARTUP_TIMEOUT_S)
    line = first_line[0] if first_line else ""
    if not line:
        server.kill()
        raise SystemExit("serve --simulator did not start (see its stderr above)")
    started = json.loads(line)
    base = started["url"].removesuffix("/v1")
    return server, base, started["key"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True, help="the copilot-host binary")
    parser.add_argument("--extension", required=True, help="the extension directory")
    parser.add_argument("-k", dest="pattern", help="run only checks whose name contains this")
    args = parser.parse_args()
    began = time.monotonic()
    server, base, key = start_server(args.host, args.extension)
    checks = Checks(args.pattern)
    try:
        openai_checks(checks, base, key)
        responses_checks(checks, base, key)
        anthropic_checks(checks, base, key)
        ollama_checks(checks, base, key)
    finally:
        # Closing stdin stops `serve` (it watches a piped stdin for EOF).
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"checks took {time.monotonic() - began:.1f}s", file=sys.stderr)
    print(f"{checks.passed} passed, {checks.failed} failed, {checks.skipped} skipped")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
