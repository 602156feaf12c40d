"""``python -m captioner describe`` and ``ask``: streamed answers, JSON records, exit codes."""

from __future__ import annotations

import json

import pytest
from runcli import BBB, cli, interrupted

from captioner.cli import terminal


def test_describe_cli_json_on_the_real_clip(tiny_vl):
    result = cli(
        "describe",
        str(BBB),
        "--model",
        tiny_vl,
        "--max-new-tokens",
        "8",
        "--seed",
        "1",
        "--json",
        "--preset",
        "timeline",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"model", "profile", "precision", "frame_times", "metrics", "answer"} <= set(record)
    assert record["model"] == tiny_vl and record["video"] == "bigbuckbunny.mp4"
    assert (record["decode_backend"], record["decode_retry"]) == ("decord", None)
    assert record["frame_times"] == pytest.approx(
        [i / 25 for i in record["frame_indices"]], abs=1e-3
    )
    assert record["metrics"]["new_tokens"] == 8 and record["metrics"]["frames"] == len(
        record["frame_times"]
    )
    # streamed before the record, as a terminal may see it (control characters removed)
    assert result.stdout.startswith(terminal.safe(record["answer"]))


def test_describe_cli_bad_input_exits_2(tmp_path, tiny_vl):
    bad = tmp_path / "empty.mp4"
    bad.write_bytes(b"")
    result = cli("describe", str(bad), "--model", tiny_vl, "--json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["error"]["code"] == "video_empty"
    missing = cli("describe", str(tmp_path / "nope.mp4"), "--model", tiny_vl)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_ask_cli_with_text_model(tiny_text):
    result = cli(
        "ask",
        "가을을 한 문장으로 묘사해 줘",
        "--model",
        tiny_text,
        "--max-new-tokens",
        "5",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["metrics"]["video_tokens"] == 0 and "frame_times" not in record


def test_ask_cli_style_length_and_hanja_switch_in_the_record(tiny_text):
    result = cli(
        "ask",
        "가을을 묘사해 줘",
        "--model",
        tiny_text,
        "--max-new-tokens",
        "6",
        "--seed",
        "0",
        "--style",
        "haeyo",
        "--length",
        "short",
        "--allow-hanja",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert (record["style"], record["length"], record["allow_hanja"]) == ("haeyo", "short", True)
    korean = record["korean"]
    assert {"hangul_share", "letters", "han_chars", "kana_chars", "warning_ko"} <= set(korean)
    assert "한글 비율" in result.stderr


def test_cli_defaults_and_a_bad_style(tiny_text, capsys):
    from captioner import cli as cli_
    from captioner.cli import describe

    args = cli_.parser().parse_args(["ask", "가을", "--style", "해요체"])
    request = describe.request_from(args)
    assert (request.style, request.length, request.options.allow_hanja) == (
        "해요체",
        "normal",
        False,
    )
    code = cli_.main(["ask", "가을", "--model", tiny_text, "--style", "banmal", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and "문체" in captured.err and "style" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["error"]["code"] == "invalid_request"


def test_describe_srt_on_unparseable_output_says_so(tiny_vl, tmp_path):
    result = cli("describe", str(BBB), "--model", tiny_vl, "--preset", "timeline", "--max-new-tokens", "4",
                  "--srt", str(tmp_path / "x.srt"), "--db", str(tmp_path / "r.sqlite3"), "--json")  # fmt: skip
    # the tiny model writes no timestamps: a clear message and exit 2, the caption still printed
    assert result.returncode == 2 and "Traceback" not in result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["subtitles_error"]["code"] == "subtitle_parse" and "answer" in record


def test_model_output_cannot_drive_the_terminal():
    from captioner.cli.terminal import safe

    assert safe("토끼\x1b[2J\x1b]0;title\x07가\r\n뛴다\x9b\tok") == "토끼가\n뛴다\tok"
    assert "\x1b" not in safe("토끼\x1b") + safe("[2J가")  # split over two chunks


def test_describe_honours_the_file_size_limit_from_the_environment():
    result = cli("describe", str(BBB), env={"CAPTIONER_MAX_FILE_MB": "0.01"})
    assert result.returncode == 2, result.stderr
    assert "너무 큽니다" in result.stderr and "too large" in result.stderr
    assert "Traceback" not in result.stderr


def test_describe_refuses_a_playlist_before_loading_the_model(tmp_path, tiny_vl):
    """An HLS playlist naming a video elsewhere on disk: exit 2, both languages, no decode."""
    playlist = tmp_path / "thing.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:5.0,\n{BBB}\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    result = cli("describe", str(playlist), "--model", tiny_vl, "--json")
    assert result.returncode == 2, result.stderr
    assert "지원하는 영상 파일이 아닙니다" in result.stderr and "MP4/MOV" in result.stderr
    assert "not a video file we accept" in result.stderr
    assert "Traceback" not in result.stderr
    assert "모델 준비" not in result.stderr  # the load stage never began
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["error"]["code"] == "not_a_video" and "frame_indices" not in record


def test_ctrl_c_stops_the_answer_and_still_prints_the_record(tiny_vl, tmp_path):
    # A KeyboardInterrupt inside the generators ended them all: no record, the JSON glued to
    # the partial answer. Ctrl-C now ends generation after its step, and the rest follows.
    sent, result = interrupted("describe", str(BBB), "--model", tiny_vl, "--max-new-tokens", "4000",
                               "--json", "--db", str(tmp_path / "r.sqlite3"),
                               ready=lambda out, _err: out.strip() != "")  # fmt: skip
    assert sent, result.stderr
    assert result.returncode == 130 and "Traceback" not in result.stderr
    assert "stopping after the current step" in result.stderr
    record = json.loads(result.stdout.splitlines()[-1])
    assert record["metrics"]["finish_reason"] == "stopped"
    assert 0 < record["metrics"]["new_tokens"] < 4000
    assert (
        result.stdout
        == terminal.safe(record["answer"]) + "\n" + json.dumps(record, ensure_ascii=False) + "\n"
    )


def test_an_unwritable_subtitle_path_is_refused_before_the_run(tiny_vl, tmp_path):
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    target = tmp_path / "file.txt" / "x.srt"
    result = cli("describe", str(BBB), "--model", tiny_vl, "--srt", str(target),
                 "--db", str(tmp_path / "r.sqlite3"))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{target} 에 쓸 수 없습니다" in result.stderr
    assert f"Cannot write to {target}" in result.stderr
    assert "모델 준비" not in result.stderr  # refused before the model was loaded


def test_a_reader_that_goes_away_ends_the_run_quietly(tiny_vl, tmp_path):
    # "describe ... | head -c 1": the next write fails with EPIPE, which is no internal error
    import subprocess
    import sys

    from runcli import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "captioner", "describe", str(BBB), "--model", tiny_vl,
         "--max-new-tokens", "4000", "--db", str(tmp_path / "r.sqlite3")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout.read(1)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "internal error" not in err


def test_command_line_mistakes_are_said_in_both_languages(capsys):
    from captioner import cli as cli_

    for argv in (["describe", "x.mp4", "--bogus"], [], ["review", "export", "--format", "xml"]):
        with pytest.raises(SystemExit) as ended:
            cli_.main(argv)
        err = capsys.readouterr().err
        assert ended.value.code == 2 and "오류: 명령줄 인자가" in err and "error: " in err


def test_ctrl_c_while_the_model_loads_ends_at_once_and_cleanly(tiny_vl, tmp_path):
    # nothing to keep yet: the first Ctrl-C ends the command (a real 2B took 43 s to get to
    # its first token otherwise), and a model still loading on another thread must not abort
    # the process ("terminate called without an active exception", SIGABRT)
    import sqlite3

    db = tmp_path / "r.sqlite3"
    sent, result = interrupted("describe", str(BBB), "--model", tiny_vl, "--db", str(db),
                               ready=lambda _out, err: "모델 준비" in err)  # fmt: skip
    assert sent, result.stderr
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "terminate called" not in result.stderr
    (status,) = sqlite3.connect(db).execute("SELECT status FROM runs").fetchone()
    assert status == "stopped"
