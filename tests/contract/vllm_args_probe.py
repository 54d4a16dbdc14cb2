"""Parse engine argument lists with vLLM's own parser; run inside the vLLM venv.

    python vllm_args_probe.py CASES.json
CASES.json: {"cases": [{"id": str, "argv": [str, ...], "engine_config": {field: value, ...} | null}]}
For each case: parse argv exactly as `python -m vllm.entrypoints.openai.api_server` does
(make_arg_parser(FlexibleArgumentParser()) + validate_parsed_serve_args), build AsyncEngineArgs.from_cli_args,
and when "engine_config" is given, override those fields (tp=1 and so on) and run create_engine_config().
Prints one JSON document on the last line of stdout.
"""

import contextlib
import io
import json
import os
import sys
import traceback


def _parser_module():
    # vLLM <= 0.2x kept the serve parser in vllm.entrypoints.openai.cli_args; 0.32 moved it to
    # vllm.entrypoints.launchers.cli_args (the old path no longer exists).
    try:
        import vllm.entrypoints.openai.cli_args as module
    except ImportError:
        import vllm.entrypoints.launchers.cli_args as module
    return module


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def run(cases: list[dict]) -> dict:
    import vllm
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    cli_args = _parser_module()
    parser = cli_args.make_arg_parser(FlexibleArgumentParser(description="contract probe"))
    options = sorted(s for action in parser._actions for s in action.option_strings)
    shutdown = next((a for a in parser._actions if "--shutdown-timeout" in a.option_strings), None)

    results = []
    for case in cases:
        result = {"id": case["id"], "parsed": False}
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                args = parser.parse_args(case["argv"])
                cli_args.validate_parsed_serve_args(args)
            result["parsed"] = True
        except SystemExit as exc:
            result["error"] = f"exit {exc.code}: {stderr.getvalue().strip()[-2000:]}"
        except Exception as exc:  # noqa: BLE001 - report, do not crash the probe
            result["error"] = f"{type(exc).__name__}: {exc}"
        if not result["parsed"]:
            results.append(result)
            continue

        engine_args = AsyncEngineArgs.from_cli_args(args)
        result["engine_args"] = {
            name: _jsonable(getattr(engine_args, name, None))
            for name in (
                "model",
                "served_model_name",
                "max_model_len",
                "tensor_parallel_size",
                "gpu_memory_utilization",
                "load_format",
                "model_loader_extra_config",
                "reasoning_parser",
                "enable_prefix_caching",
                "max_num_seqs",
                "shutdown_timeout",
                "dtype",
                "quantization",
                "kv_cache_dtype",
            )
        }
        result["frontend_args"] = {
            name: _jsonable(getattr(args, name, None))
            for name in ("host", "port", "api_key", "enable_auto_tool_choice", "tool_call_parser", "uvicorn_log_level")
        }

        overrides = case.get("engine_config")
        if overrides is not None:
            for name, value in overrides.items():
                setattr(engine_args, name, value)
            try:
                with contextlib.redirect_stderr(stderr):
                    config = engine_args.create_engine_config()
                result["engine_config"] = {
                    "ok": True,
                    "max_model_len": config.model_config.max_model_len,
                    "served_model_name": _jsonable(config.model_config.served_model_name),
                    "dtype": str(config.model_config.dtype),
                    "tensor_parallel_size": config.parallel_config.tensor_parallel_size,
                    "block_size": config.cache_config.block_size,
                    "load_format": str(config.load_config.load_format),
                    "shutdown_timeout": getattr(config, "shutdown_timeout", None),
                    "device": str(config.device_config.device),
                }
            except Exception as exc:  # noqa: BLE001
                result["engine_config"] = {
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc()[-3000:],
                }
        results.append(result)

    return {
        "vllm_version": vllm.__version__,
        "parser_module": cli_args.__name__,
        "option_count": len(options),
        "shutdown_timeout_flag": None
        if shutdown is None
        else {"option": "--shutdown-timeout", "default": shutdown.default, "help": shutdown.help},
        "results": results,
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        cases = json.load(handle)["cases"]
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    document = run(cases)
    sys.stdout.write("\n" + json.dumps(document) + "\n")
