"""adamconf_pytest as a user runs it: pytest over a test file of theirs, in a
separate process. A correct adapter's tests pass or skip, one per property; a
buggy adapter's fail with the claim, the values in ulps, the inputs and the
replay command; bad input fails every test with adamconf's one-line error."""
import os
import re
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")


def run_pytest(tmp_path, body):
    test_file = tmp_path / "test_user.py"
    test_file.write_text(textwrap.dedent("""\
        import sys
        sys.path.insert(0, %r)
        from adamconf_pytest import property_tests
        PY = sys.executable
        SRC = %r
        """ % (os.path.join(SRC, "integrations", "pytest"), SRC)) + textwrap.dedent(body))
    done = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", str(test_file)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=900)
    return done.returncode, done.stdout + done.stderr


def counts(out):
    last = [line for line in out.splitlines() if re.search(r"\d+ (passed|failed|skipped)", line)][-1]
    return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", last)}


def property_count():
    out = subprocess.run([os.environ["ADAMCONF"], "properties"], capture_output=True, text=True, check=True).stdout
    return len([line for line in out.splitlines() if line and not line.startswith(" ")])


def test_correct_adapter_passes_one_test_per_property(tmp_path):
    code, out = run_pytest(tmp_path, """
        test_minimal = property_tests(impl=PY + " " + SRC + "/adapters/template/minimal_adapter.py",
                                      preset="kingma-ba", dtype="float64", cases=5)
        """)
    assert code == 0, out
    c = counts(out)
    assert c.get("passed", 0) + c.get("skipped", 0) == property_count(), out
    assert c.get("passed", 0) >= 15, out
    assert "PASSED test_user.py::test_minimal[trajectory-agrees-with-reference]" in out, out
    assert re.search(r"SKIPPED .*needs state read/write", out), out  # skipped with its reason


def test_buggy_adapter_fails_with_the_claim_and_replay(tmp_path):
    code, out = run_pytest(tmp_path, """
        test_buggy = property_tests(impl=PY + " " + SRC + "/tests/adapters/buggy_adapter.py",
                                    preset="kingma-ba", dtype="float64", cases=5,
                                    properties=["trajectory-agrees-with-reference", "step-one-closed-form",
                                                "reflection-symmetry"])
        """)
    assert code == 1, out
    assert counts(out) == {"failed": 2, "passed": 1}, out
    for needle in ("FAILED test_user.py::test_buggy[trajectory-agrees-with-reference]",
                   "claim: every step of a whole trajectory", "ulps, allowed", "inputs:",
                   "replay: adamconf check --impl", "--property trajectory-agrees-with-reference"):
        assert needle in out, needle + "\n" + out


def test_bad_input_fails_every_test_with_the_error(tmp_path):
    code, out = run_pytest(tmp_path, """
        test_bad = property_tests(impl="builtin:float", preset="no-such-preset", cases=5,
                                  properties=["trajectory-agrees-with-reference", "step-one-closed-form"])
        """)
    assert code == 1, out
    assert counts(out) == {"failed": 2}, out
    assert "adamconf check exited 2" in out and "no-such-preset" in out, out
