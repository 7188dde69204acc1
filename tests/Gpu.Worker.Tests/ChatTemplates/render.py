#!/usr/bin/env python3
"""Renders the chat templates of templates.json with Jinja2 as transformers does (sandboxed, trim_blocks,
lstrip_blocks, loop controls, its tojson, raise_exception, strftime_now, tools and documents None) and writes expected.json, which
ChatTemplateTests compares the worker's renderer against. Run it again after changing templates.json:
    python3 tests/Gpu.Worker.Tests/ChatTemplates/render.py
"""
import json, os
from datetime import datetime
import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = datetime(2026, 11, 30, 9, 5, 7)

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda f: NOW.strftime(f)

spec = json.load(open(os.path.join(HERE, "templates.json"), encoding="utf-8"))
out = []
for t in spec["templates"]:
    template = env.from_string(t["template"])
    cases = []
    for c in spec["conversations"]:
        for gen in (True, False):
            # transformers passes tools and documents (None when not given).
            args = dict(messages=c["messages"], tools=None, documents=None, add_generation_prompt=gen, bos_token=t.get("bos"), eos_token=t.get("eos"), **c.get("extra", {}))
            try:
                cases.append({"conversation": c["name"], "add_generation_prompt": gen, "output": template.render(**args)})
            except jinja2.exceptions.TemplateError as e:
                cases.append({"conversation": c["name"], "add_generation_prompt": gen, "error": str(e)})
    out.append({"name": t["name"], "cases": cases})
with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
    json.dump({"rendered_by": f"jinja2 {jinja2.__version__}", "templates": out}, f, ensure_ascii=False, indent=1)
print(f"{sum(len(t['cases']) for t in out)} renderings written")
