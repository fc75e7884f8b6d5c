"""`zoo serve` (zoo/serve/): the page in a real headless Chromium driven by Selenium (upload, progress,
before/after, the result equal to zoo.denoise's, a bad file's one-line error), and over plain HTTP
the upload limit, bad values, 127.0.0.1 only, the temp folder removed at the end, and `zoo --help`
and `zoo list` importing no web framework."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, save_rgb

START_TIMEOUT = 120  # seconds for the server to say where it listens (bounds a hung start; not a timing check)
JOB_TIMEOUT = 300


@contextlib.contextmanager
def zoo_serve(*args: str):
    """`python -m zoo serve --port 0` in a subprocess: yields (url, temp folder, process); stopped
    with SIGTERM at the end (killed if it does not stop)."""
    for module in ("fastapi", "uvicorn", "multipart"):
        pytest.importorskip(module, reason="zoo serve needs the serve extra (fastapi, uvicorn, python-multipart)")
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "serve", "--port", "0", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    try:
        found = re.search(r"(http://127\.0\.0\.1:\d+)/ .* kept in (\S+) until", line[0] if line else "")
        assert found, f"zoo serve did not start: {line} {proc.poll()}"
        yield found.group(1), Path(found.group(2)), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def noisy(tmp_path) -> Path:
    rng = np.random.default_rng(5)
    y, x = np.mgrid[:72, :96]
    clean = np.stack([x / 96, y / 72, 0.5 + 0 * x], -1)
    return save_rgb(tmp_path / "noisy.png", clean + rng.normal(0, 0.08, clean.shape))


def post(url: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]], headers: dict | None = None):
    """A multipart POST; returns (status, JSON body)."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                   f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(url, data=body.getvalue(), method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_help_and_list_import_no_web_framework():
    code = ("import sys; from typer.testing import CliRunner; from zoo.cli import app; "
            "r = CliRunner(); assert r.invoke(app, ['--help']).exit_code == 0; "
            "assert r.invoke(app, ['list']).exit_code == 0; assert r.invoke(app, ['serve', '--help']).exit_code == 0; "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'multipart') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_without_the_extra_it_is_one_line():
    code = "import sys; sys.modules['uvicorn'] = None; sys.argv = ['zoo', 'serve', '--port', '0']; from zoo.cli import run; run()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == "error: zoo serve needs uvicorn: pip install -c constraints.txt 'denoise-zoo[serve]'"


def test_bad_requests_get_one_line_and_the_temp_folder_goes(noisy):
    data = noisy.read_bytes()
    with zoo_serve("--max-upload", "0.01") as (url, folder, proc):  # 10 KB: the photo is larger
        assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
        status, body = post(f"{url}/api/jobs", {"model": "mwrcanet"}, {"photo": ("noisy.png", data)})
        assert status == 413 and re.fullmatch(r"error: [^\n]+zoo serve --max-upload\)", body["error"])
        status, body = post(f"{url}/api/jobs", {"model": "mwrcanet", "strength": "1.5"}, {"photo": ("a.png", b"x")})
        assert status == 400 and body["error"].startswith("error: strength takes a number from 0")
        status, body = post(f"{url}/api/jobs", {"model": "../../etc/passwd"}, {"photo": ("a.png", b"x")})
        assert status == 400 and body["error"].startswith("error: choose a model from the list")
        status, body = post(f"{url}/api/jobs", {"model": "nosuchmodel"}, {"photo": ("a.png", b"x")})
        assert status == 400 and "unknown model 'nosuchmodel'" in body["error"]
        status, body = post(f"{url}/api/jobs", {"model": "mwrcanet"}, {"photo": ("a.png", b"x")},
                            headers={"Host": "attacker.example"})
        assert status == 400 and body["error"].startswith("error: this server answers only requests to 127.0.0.1")
        assert list(folder.iterdir()) == []  # nothing refused was kept
    assert proc.returncode == 128 + signal.SIGTERM and not folder.exists()


def test_the_result_keeps_the_format_and_metadata(noisy, tmp_path):
    import time

    photo = tmp_path / "shot.jpg"
    exif = Image.Exif()
    exif[0x010F] = "ZooCam"  # Make
    Image.open(noisy).save(photo, quality=95, exif=exif)
    with zoo_serve() as (url, folder, proc):
        status, body = post(f"{url}/api/jobs", {"model": "mwrcanet", "strength": "0.75"},
                            {"photo": ("shot.jpg", photo.read_bytes())})
        assert status == 200, body
        for _ in range(JOB_TIMEOUT * 4):  # polled as the page does; bounded, not timed
            with urllib.request.urlopen(f"{url}/api/jobs/{body['id']}", timeout=60) as reply:
                state = json.loads(reply.read())
            if state["state"] in ("done", "failed"):
                break
            time.sleep(0.25)
        assert state["state"] == "done" and state["download"] == "shot_denoised-mwrcanet-strength0.75.jpg", state
        assert (state["strength"], state["chroma_strength"]) == (0.75, 0.75)
        with urllib.request.urlopen(f"{url}/api/jobs/{body['id']}/result", timeout=60) as reply:
            assert 'filename="shot_denoised-mwrcanet-strength0.75.jpg"' in reply.headers["content-disposition"]
            result = Image.open(io.BytesIO(reply.read()))
        assert result.format == "JPEG" and result.size == (96, 72) and result.getexif().get(0x010F) == "ZooCam"


def _chrome(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,900", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never look for drivers online
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_the_page_in_a_browser(noisy, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    import zoo

    browser = _chrome(tmp_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not a photo")
    try:
        with zoo_serve() as (url, folder, proc):
            browser.get(url + "/")
            WebDriverWait(browser, JOB_TIMEOUT).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
            model = browser.find_element(By.ID, "model").get_attribute("value")
            tag = browser.find_element(By.ID, "tag").get_attribute("value")
            assert (model, tag) == ("mwrcanet", "camera_incamera_urban_medium")
            browser.execute_script("const s = document.getElementById('strength'); s.value = '0.5';"
                                   "s.dispatchEvent(new Event('input'));")
            browser.find_element(By.ID, "file").send_keys(str(noisy))
            body = browser.find_element(By.TAG_NAME, "body")
            WebDriverWait(browser, JOB_TIMEOUT).until(
                lambda b: body.get_attribute("data-done") or b.find_element(By.ID, "error").text)
            assert browser.find_element(By.ID, "error").text == ""
            job = body.get_attribute("data-done")
            shot = tmp_path / "zoo-serve.png"
            browser.save_screenshot(str(shot))
            print(f"screenshot: {shot}")
            widths = browser.execute_script("return [document.getElementById('before').naturalWidth,"
                                            "document.getElementById('after').naturalWidth]")
            assert widths == [96, 96]  # the previews at 100%
            link = browser.find_element(By.ID, "download")
            assert link.get_attribute("download") == "noisy_denoised-mwrcanet-camera_incamera_urban_medium-strength0.5.png"
            with urllib.request.urlopen(link.get_attribute("href"), timeout=60) as reply:
                result = np.asarray(Image.open(io.BytesIO(reply.read())))
            noisy_pixels = np.asarray(Image.open(noisy))
            assert result.shape == noisy_pixels.shape == (72, 96, 3)
            assert np.abs(result.astype(int) - noisy_pixels).mean() > 2  # it was denoised
            expected = zoo.denoise(noisy, model=f"{model}:{tag}", strength=0.5)
            assert np.abs(result.astype(int) - np.rint(expected * 255)).max() <= 1  # zoo.denoise's pixels

            browser.find_element(By.ID, "file").send_keys(str(broken))
            WebDriverWait(browser, JOB_TIMEOUT).until(lambda b: b.find_element(By.ID, "error").text)
            error = browser.find_element(By.ID, "error").text
            assert error.startswith("error: broken.png") and "\n" not in error, error
            assert str(folder) not in error  # the upload's own name, never the server's temp path
            assert job
    finally:
        browser.quit()
    assert not folder.exists()
