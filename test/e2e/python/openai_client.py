"""Drives a TitanCompute cluster with the Python openai client, through the control plane's 307.

Usage: python openai_client.py BASE_URL MODEL. Asserts as it goes (a failure exits non-zero with
the traceback) and prints one JSON line with what it saw, which test/e2e/python-openai.test.ts
checks again.
"""

import json
import sys
import time

from openai import OpenAI
from pydantic import BaseModel, Field

base_url, model = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=f"{base_url}/v1", api_key="not-needed", max_retries=0)
hello = [{"role": "user", "content": "Say hello."}]
seen = {"version": __import__("openai").__version__}
started = time.monotonic()


def step(name):
    """Progress on stderr, so a failure or a timeout shows how far the script got."""
    print(f"[{time.monotonic() - started:6.1f}s] {name}", file=sys.stderr, flush=True)


step("streamed chat")

# A streamed chat answer.
text = ""
finish = None
for chunk in client.chat.completions.create(model=model, messages=hello, max_tokens=16, stream=True):
    for choice in chunk.choices:
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
assert text, "the stream carried no text"
assert finish in ("stop", "length"), finish
seen["stream"] = {"text": text, "finish_reason": finish}

step("tool call round trip")
# A tool call round trip: the call is forced, answered with a tool message, and the model finishes.
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 20}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]
question = [{"role": "user", "content": "What is the weather in Oslo?"}]
called = client.chat.completions.create(
    model=model,
    messages=question,
    tools=tools,
    tool_choice={"type": "function", "function": {"name": "get_weather"}},
    max_tokens=80,
    temperature=0,
)
message = called.choices[0].message
assert called.choices[0].finish_reason == "tool_calls", called.choices[0].finish_reason
call = message.tool_calls[0]
arguments = json.loads(call.function.arguments)
assert isinstance(arguments.get("city"), str), arguments
answered = client.chat.completions.create(
    model=model,
    messages=[
        *question,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"sky": "clear", "celsius": 21})},
    ],
    tools=tools,
    tool_choice="none",
    max_tokens=24,
    temperature=0,
)
final = answered.choices[0]
assert final.message.content, "no answer after the tool result"
assert final.finish_reason in ("stop", "length"), final.finish_reason
seen["tool_call"] = {"name": call.function.name, "arguments": arguments, "answer": final.message.content}


step("json_schema parsed")
# A json_schema answer, parsed by the client into a pydantic model.
class City(BaseModel):
    city: str = Field(max_length=30)
    population: int
    coastal: bool


parsed = client.chat.completions.parse(
    model=model,
    messages=[{"role": "user", "content": "Describe a city as JSON."}],
    response_format=City,
    max_tokens=300,
    temperature=0,
)
city = parsed.choices[0].message.parsed
assert isinstance(city, City), parsed.choices[0].message.content
seen["json_schema"] = city.model_dump()

step("embeddings")
# Embeddings of a batch.
embedded = client.embeddings.create(model=model, input=["a cat", "a dog"])
vectors = [e.embedding for e in embedded.data]
assert [e.index for e in embedded.data] == [0, 1]
assert len(vectors[0]) == len(vectors[1]) > 0
seen["embeddings"] = {"count": len(vectors), "dimensions": len(vectors[0])}

step("n = 2")
# n = 2: two choices, whole and streamed (the same seeds give the same two answers).
asked = {"model": model, "messages": hello, "n": 2, "max_tokens": 8, "seed": 3}
whole = client.chat.completions.create(**asked)
assert [c.index for c in whole.choices] == [0, 1], whole.choices
texts = ["", ""]
for chunk in client.chat.completions.create(**asked, stream=True):
    for choice in chunk.choices:
        texts[choice.index] += choice.delta.content or ""
assert texts == [c.message.content for c in whole.choices], (texts, whole.choices)
seen["n"] = {"choices": texts, "completion_tokens": whole.usage.completion_tokens}

step("done")
print(json.dumps(seen))
