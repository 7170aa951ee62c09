#!/usr/bin/env python3
"""Runs a Python script with environment variables set first, for `bench --torch-blas`:
Deno lets a task run /usr/bin/python3 but not set LD_PRELOAD for it, so this sets it and
re-executes the interpreter.

    python3 tools/python_with_env.py NAME=VALUE [NAME=VALUE ...] -- SCRIPT [ARGS ...]
"""
import os
import sys

split = sys.argv.index("--")
env = dict(os.environ)
for assignment in sys.argv[1:split]:
    name, value = assignment.split("=", 1)
    env[name] = value
os.execve(sys.executable, [sys.executable, *sys.argv[split + 1:]], env)
