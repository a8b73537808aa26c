"""What every recorder shares: writing a step's files so that none is ever half-written."""
import os
import tempfile


def write_atomically(path, write):
    """write(tmp) into a temporary file beside `path`, then rename it to `path` (created with the
    permissions open() would give it, not mkstemp's 0600); on any failure the temporary is removed."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".tmp.")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
