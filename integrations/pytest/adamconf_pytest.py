"""pytest integration for adamconf: one pytest test per property.

Copy examples/python/test_adamconf_conformance.py, or write in any test file:

    from adamconf_pytest import property_tests
    test_my_adamw = property_tests(impl="python3 my_adapter.py", preset="pytorch-adamw",
                                   dtype="float32", cases=20)

pytest then collects test_my_adamw[trajectory-agrees-with-reference], ... one
per property. The first of them runs `adamconf check` once, with --json, and
every test reads its verdict from that report: a failure shows the claim, the
failing value in ulps, the shrunk inputs and the command that replays it; a
property that does not apply is skipped with its reason. The runs under an
option the adapter offers (`[amsgrad]`, `[maximize]`) count towards the
property's own test.

The command is found as: the `adamconf` argument, else $ADAMCONF, else
`adamconf` on PATH, else the build tree beside this file (../build/adamconf).
Plain Python; needs only pytest (Debian's python3-pytest).
"""
import json
import os
import shlex
import shutil
import subprocess
import tempfile

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))


def find_adamconf(adamconf=None):
    """The adamconf command to run."""
    for candidate in (adamconf, os.environ.get("ADAMCONF"), shutil.which("adamconf"),
                      os.path.join(_HERE, "..", "build", "adamconf"), os.path.join(_HERE, "..", "..", "..", "bin", "adamconf")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    raise RuntimeError("adamconf_pytest: no adamconf command found: pass adamconf=PATH, set $ADAMCONF, "
                       "or put adamconf on PATH")


def property_ids(adamconf=None):
    """Every property `adamconf check` runs, in report order (`adamconf properties`)."""
    out = subprocess.run([find_adamconf(adamconf), "properties"], check=True, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line and not line.startswith(" ")]


class CheckReport:
    """One `adamconf check` run and its JSON report, run on first use."""

    def __init__(self, args, adamconf=None, timeout=3600):
        self.args = list(args)
        self.adamconf = adamconf
        self.timeout = timeout
        self._report = None
        self._error = None

    def report(self):
        if self._report is None and self._error is None:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "report.json")
                command = [find_adamconf(self.adamconf), "check", *self.args, "--json", path]
                done = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout)
                # 0: passed, 1: something failed (the report says what); 2: bad input, one line on stderr.
                if done.returncode in (0, 1) and os.path.exists(path):
                    with open(path) as f:
                        self._report = json.load(f)
                else:
                    self._error = "adamconf check exited %d: %s\n%s" % (
                        done.returncode, (done.stderr.strip() or done.stdout.strip()[-2000:]), shlex.join(command))
        if self._error is not None:
            pytest.fail(self._error, pytrace=False)
        return self._report

    def verdicts(self, property_id):
        return [p for p in self.report()["properties"]
                if p["id"] == property_id or p["id"].startswith(property_id + " [")]


def _describe(run, p):
    name = p["id"] + (" [%s]" % p["variant"] if p.get("variant") else "")
    lines = ["%s: %s after %s cases" % (name, p["status"], p.get("cases", 0))]
    if p.get("claim"):
        lines.append("claim: " + p["claim"])
    if p.get("reason"):
        lines.append(p["reason"])
    if p.get("counterexample"):
        lines.append("inputs:\n" + p["counterexample"].rstrip())
    if p.get("replay"):
        lines.append("replay: " + p["replay"])
    if p["status"] == "not-run":
        lines.append("not run: the adapter failed earlier (see the first failing property)")
    return "\n".join(lines)


def property_tests(impl, preset, dtype="float32", cases=100, seed=1, options=(), settings=None, skip=(),
                   properties=None, extra_args=(), adamconf=None, timeout=3600):
    """A pytest test function parametrized by property: assign it to a test_* name.

    impl: what `adamconf check --impl` takes (an adapter command, builtin:float).
    options: of "amsgrad", "maximize", "no-bias-correction".  settings: {"weight_decay": "0"} (--set).
    skip: property ids to leave out (--skip-property).  properties: only these (--property).
    """
    args = ["--impl", impl, "--preset", preset, "--dtype", dtype, "--cases", str(cases), "--seed", str(seed)]
    args += ["--" + o for o in options]
    for k, v in (settings or {}).items():
        args += ["--set", "%s=%s" % (k, v)]
    ids = list(properties) if properties else [i for i in property_ids(adamconf) if i not in skip]
    args += [a for i in skip for a in ("--skip-property", i)]
    if properties:
        args += [a for i in properties for a in ("--property", i)]
    args += list(extra_args)
    run = CheckReport(args, adamconf=adamconf, timeout=timeout)

    @pytest.mark.parametrize("adamconf_property", ids)
    def test(adamconf_property):
        verdicts = run.verdicts(adamconf_property)
        if not verdicts:
            pytest.fail("adamconf check reported nothing for " + adamconf_property, pytrace=False)
        bad = [p for p in verdicts if p["status"] not in ("pass", "skip")]
        if bad:
            pytest.fail("\n\n".join(_describe(run, p) for p in bad), pytrace=False)
        if all(p["status"] == "skip" for p in verdicts):
            pytest.skip(verdicts[0].get("reason", "skipped"))

    test.adamconf_run = run
    return test
