"""clairvoyance (PyPI), pointed at an async-graphql server: rebuilds what it can of a
schema from validation errors, as an attacker would where introspection is closed.

clairvoyance reads graphql-js's wording ("Cannot query field ... Did you mean "a",
"b", or "c"?"); async-graphql says the same things in other words ("Unknown field
..."), which clairvoyance does not recognise, so on its own it learns nothing from any
async-graphql server and a test with it would prove nothing. Here each message is
put into graphql-js's words before clairvoyance reads it: what a few minutes of an
attacker's time would do. And a field whose type the server will not tell is left
out instead of aborting the whole run (clairvoyance gives up on the first one).

Usage: python blind.py URL OUTPUT WORD...  (tests/it/leaks.rs runs it)
"""

import asyncio
import logging
import re
import sys

from clairvoyance import oracle
from clairvoyance.cli import blind_introspection
from clairvoyance.client import Client
from clairvoyance.entities.errors import EndpointError

NAME = r'"([^"]+)"'


def graphql_js_list(suggested: str) -> str:
    names = [f'"{n}"' for n in re.findall(NAME, suggested)]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} or {names[1]}"
    return ", ".join(names[:-1]) + ", or " + names[-1]


def with_suggestion(head: str, suggested) -> str:
    return f"{head} Did you mean {graphql_js_list(suggested)}?" if suggested else head


RULES = [
    (
        re.compile(rf"^Unknown field {NAME} on type {NAME}\.(?: Did you mean (.+)\?)?$"),
        lambda m: with_suggestion(
            f'Cannot query field "{m[1]}" on type "{m[2]}".', m[3]
        ),
    ),
    (
        re.compile(rf"^Unknown argument {NAME} on field {NAME} of type {NAME}\.(?: Did you mean (.+)\?)?$"),
        lambda m: with_suggestion(
            f'Unknown argument "{m[1]}" on field "{m[2]}" of type "{m[3]}".', m[4]
        ),
    ),
    (
        re.compile(rf"^Field {NAME} of type {NAME} must have a selection of subfields$"),
        lambda m: f'Field "{m[1]}" of type "{m[2]}" must have a selection of subfields. '
        f'Did you mean "{m[1]} {{ ... }}"?',
    ),
    (
        re.compile(rf"^Field {NAME} must not have a selection since type {NAME} has no subfields$"),
        lambda m: m[0] + ".",
    ),
    (
        re.compile(rf"^Field {NAME} argument {NAME} of type {NAME} is required but not provided$"),
        lambda m: m[0] + ".",
    ),
    (
        re.compile(rf"^Invalid value for argument {NAME}, expected type {NAME}$"),
        lambda m: f"Expected type {m[2]}, found a value of another type.",
    ),
]


def translate(message: str) -> str:
    for pattern, rewrite in RULES:
        match = pattern.match(message)
        if match:
            return rewrite(match)
    return message


_post = Client.post


async def post(self, document, retries=0):
    response = await _post(self, document, retries)
    for error in response.get("errors") or []:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            error["message"] = translate(error["message"])
    return response


Client.post = post

_probe_valid_fields = oracle.probe_valid_fields


async def probe_valid_fields(wordlist, input_document):
    learnt = set()
    for field in await _probe_valid_fields(wordlist, input_document):
        try:
            await oracle.probe_field_type(field, input_document)
        except EndpointError:
            continue
        learnt.add(field)
    return learnt


oracle.probe_valid_fields = probe_valid_fields


def main() -> None:
    url, output, words = sys.argv[1], sys.argv[2], sys.argv[3:]
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(
        blind_introspection(
            url,
            logger=logging.getLogger("clairvoyance"),
            wordlist=words,
            concurrent_requests=8,
            output_path=output,
        )
    )


if __name__ == "__main__":
    main()
