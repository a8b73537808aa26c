"""What both audit examples do with their recorded steps: run `adamconf audit` on each and keep
every verdict that is not the one expected (a correct step passes; a planted bug fails, naming
the tensor and element)."""
import os
import subprocess
import time


class Audits:
    def __init__(self, adamconf):
        self.adamconf = adamconf
        self.problems = []
        self.audited = 0
        self.start = time.time()

    def run(self, manifest):
        """adamconf audit MANIFEST: its exit status and its output, without the progress lines."""
        r = subprocess.run([self.adamconf, "audit", manifest, "--jobs", "2"], capture_output=True, text=True, timeout=600)
        self.audited += 1
        return r.returncode, r.stdout + "".join(line for line in r.stderr.splitlines(True) if "audit: elements" not in line)

    def expect_pass(self, manifest, label):
        status, output = self.run(manifest)
        verdict = next((line for line in output.splitlines() if line.startswith("verdict:")), output.strip()[-200:])
        print(f"{label} {os.path.basename(os.path.dirname(manifest))}: exit {status}: {verdict}")
        if status != 0:
            self.problems.append(f"{manifest}: exit {status}, expected 0:\n{output}")

    def expect_failure(self, manifest, name, needle, kind="planted"):
        """A step that must fail (a planted bug, or a library's documented finding), its report saying `needle`."""
        status, output = self.run(manifest)
        named = needle in output
        print(f"{kind} {name:14} {os.path.basename(os.path.dirname(manifest))}: exit {status}, names '{needle}': {named}")
        if status != 1 or not named:
            self.problems.append(f"{kind} {name}: exit {status} (expected 1), '{needle}' named: {named}:\n{output}")

    def finish(self, versions):
        """Prints the summary and every problem; the exit status."""
        print(f"{self.audited} recorded steps audited in {time.time() - self.start:.1f} s; {versions}")
        for p in self.problems:
            print("PROBLEM:", p)
        return 1 if self.problems else 0
