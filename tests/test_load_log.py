"""load_log: generic CSV/Parquet/DataFrame logs, implicit feedback, items tables, errors."""

import argparse

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recgraph.data import (IMPLICIT_RATING, LOG_FLAGS, Ratings, add_log_arguments, check_rating_options,
                           load, load_log, log_options)
from recgraph.errors import DataError, ParameterError

CUSTOM = {"user_col": "uid", "item_col": "sku", "time_col": "ts"}


def one_sentence(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.endswith("."), text
    return text


def test_csv_with_custom_columns_and_no_rating_is_implicit(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text("uid,sku,ts,extra\n7,30,100,a\n7,10,101,b\n8,30,102,c\n")
    data = load_log(path, **CUSTOM)
    assert data.implicit and not data.has_titles
    assert list(data.ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert data.ratings["userId"].tolist() == [7, 7, 8]
    assert data.ratings["movieId"].tolist() == [30, 10, 30]
    assert data.ratings["rating"].tolist() == [IMPLICIT_RATING] * 3
    assert data.ratings["timestamp"].tolist() == [100, 101, 102]
    assert [str(t) for t in data.ratings.dtypes] == ["int64", "int64", "float64", "int64"]
    assert data.columns == {"user_col": "uid", "item_col": "sku", "rating_col": None, "time_col": "ts"}
    assert data.titles() == {10: "item 10", 30: "item 30"}
    assert data.movies["movieId"].dtype == np.int64 and data.movies["genres"].tolist() == ["", ""]
    assert data.source == str(path) and len(data.md5) == 32
    # The recorded columns read the same log again.
    again = load_log(path, **data.columns)
    pd.testing.assert_frame_equal(again.ratings, data.ratings)


def test_csv_with_ratings_any_finite_value(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("user,item,score\n1,2,-3.5\n1,3,10\n")
    data = load_log(path, user_col="user", item_col="item", rating_col="score")
    assert not data.implicit
    assert data.ratings["rating"].tolist() == [-3.5, 10.0]
    assert "timestamp" not in data.ratings.columns
    assert data.columns["time_col"] is None


def test_rating_col_none_forces_implicit(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("userId,movieId,rating\n1,2,1\n")
    assert load_log(path, rating_col=None).ratings["rating"].tolist() == [5.0]
    assert load_log(path, rating_col="").implicit


def test_parquet_file_with_arrow_types(tmp_path):
    path = tmp_path / "log.parquet"
    table = pa.table({
        "uid": pa.array([3, 1], pa.int32()),
        "sku": pa.array(["11", "12"]),  # string ids of integers are fine
        "ts": pa.array([0, 86_400_000_000], pa.timestamp("us")),
    })
    pq.write_table(table, path)
    data = load_log(path, **CUSTOM)
    assert data.implicit
    assert data.ratings["userId"].tolist() == [3, 1]
    assert data.ratings["movieId"].tolist() == [11, 12]
    assert data.ratings["timestamp"].tolist() == [0, 86_400]
    assert [str(t) for t in data.ratings.dtypes] == ["int64", "int64", "float64", "int64"]


def test_directory_of_parquet_parts(tmp_path):
    parts = tmp_path / "log"
    parts.mkdir()
    pq.write_table(pa.table({"uid": [2, 2], "sku": [5, 6], "ts": [1, 2]}), parts / "part-00001.parquet")
    pq.write_table(pa.table({"uid": [1], "sku": [5], "ts": [3]}), parts / "part-00000.parquet")
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-00000.parquet.crc").write_bytes(b"\0")
    data = load_log(parts, **CUSTOM)
    assert data.ratings["userId"].tolist() == [1, 2, 2]  # parts in name order
    assert data.ratings["movieId"].tolist() == [5, 5, 6]
    assert data.source == str(parts)


def test_directory_of_csv_parts(tmp_path):
    parts = tmp_path / "log"
    parts.mkdir()
    (parts / "a.csv").write_text("uid,sku\n1,1\n")
    (parts / "b.csv").write_text("uid,sku\n2,1\n")
    data = load_log(parts, user_col="uid", item_col="sku")
    assert data.ratings["userId"].tolist() == [1, 2]
    assert "timestamp" not in data.ratings.columns


def test_parts_with_different_columns(tmp_path):
    parts = tmp_path / "log"
    parts.mkdir()
    (parts / "a.csv").write_text("uid,sku,rating\n1,1,3\n")
    (parts / "b.csv").write_text("uid,sku\n2,1\n")
    with pytest.raises(DataError, match="every part needs the same columns") as info:
        load_log(parts, user_col="uid", item_col="sku")
    assert "b.csv" in one_sentence(info.value)


def test_dataframe_source():
    frame = pd.DataFrame({"u": [1, 1, 2], "i": [1.0, 2.0, 1.0], "r": ["4", "3.5", "1"], "t": [5, 6, 7]})
    data = load_log(frame, user_col="u", item_col="i", rating_col="r", time_col="t")
    assert data.source == "DataFrame" and len(data.md5) == 32
    assert data.ratings["movieId"].tolist() == [1, 2, 1]
    assert data.ratings["rating"].tolist() == [4.0, 3.5, 1.0]
    assert [str(t) for t in data.ratings.dtypes] == ["int64", "int64", "float64", "int64"]
    assert load_log(frame.copy(), user_col="u", item_col="i", rating_col="r", time_col="t").md5 == data.md5


def test_dataframe_bad_value_names_its_row():
    frame = pd.DataFrame({"userId": [1, 2, 3], "movieId": [1, 2, "x"]})
    with pytest.raises(DataError) as info:
        load_log(frame)
    assert one_sentence(info.value) == "DataFrame row 2 (0-based position): movieId 'x' is not an integer."


def test_items_table_csv_and_parquet(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("uid,sku\n1,10\n1,20\n2,30\n")
    items_csv = tmp_path / "items.csv"
    items_csv.write_text('item_id,title,genres\n10,"Ten, the film",Drama\n20,Twenty,\n')
    data = load_log(log, user_col="uid", item_col="sku", items=items_csv)
    assert data.has_titles
    # 30 is not in the table: it gets a generated name rather than vanishing.
    assert data.titles() == {10: "Ten, the film", 20: "Twenty", 30: "item 30"}
    assert data.movies["genres"].tolist() == ["Drama", "", ""]
    items_pq = tmp_path / "items.parquet"
    pq.write_table(pa.table({"sku": [10, 20, 30], "title": ["A", "B", "C"]}), items_pq)
    data = load_log(log, user_col="uid", item_col="sku", items=items_pq)
    assert data.titles() == {10: "A", 20: "B", 30: "C"}
    assert data.movies["genres"].tolist() == ["", "", ""]
    assert [str(t) for t in data.movies.dtypes] == ["int64", "str", "str"]
    frame_items = pd.DataFrame({"id": [10], "title": ["X"]})
    assert load_log(log, user_col="uid", item_col="sku", items=frame_items).titles()[10] == "X"


def test_items_table_errors(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("userId,movieId\n1,10\n")
    bad = tmp_path / "items.csv"
    bad.write_text("movieId,name\n10,A\n")
    with pytest.raises(DataError, match="items.csv lacks column.s. title; found movieId, name"):
        load_log(log, items=bad)
    bad.write_text("key,title\n10,A\n")
    with pytest.raises(DataError, match=r"lacks an id column \(movieId, item_id, id\)"):
        load_log(log, items=bad)
    bad.write_text("id,title\n10,A\n10,B\n")
    with pytest.raises(DataError) as info:
        load_log(log, items=bad)
    assert one_sentence(info.value) == f"{bad} line 3: id 10 appears twice."
    with pytest.raises(DataError, match="Items table .* does not exist"):
        load_log(log, items=tmp_path / "nope.csv")


def test_movielens_through_load_log_is_unchanged(ml_small, ml_small_path):
    data = load_log(ml_small_path)
    pd.testing.assert_frame_equal(data.ratings, ml_small.ratings)
    pd.testing.assert_frame_equal(data.movies, ml_small.movies)
    assert (len(data.ratings), len(data.movies)) == (100_836, 9_742)
    assert [str(t) for t in data.ratings.dtypes] == ["int64", "int64", "float64", "int64"]
    assert [str(t) for t in data.movies.dtypes] == ["int64", "str", "str"]
    assert not data.implicit and data.has_titles
    assert data.columns == {"user_col": "userId", "item_col": "movieId", "rating_col": "rating",
                            "time_col": "timestamp"}
    # Checksums of every column, fixed when the pyarrow loader replaced the dtype=str one.
    assert int(data.ratings["userId"].sum()) == 32_885_399
    assert int(data.ratings["movieId"].sum()) == 1_959_777_479
    assert float(data.ratings["rating"].sum()) == 353_083.0
    assert int(data.ratings["timestamp"].sum()) == 121_602_779_665_887
    assert data.movies["title"].iloc[0] == "Toy Story (1995)"
    assert load(data) is data


def test_movielens_directory_with_other_items_table(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating\n1,1,0.5\n")
    items = tmp_path / "names.csv"
    items.write_text("movieId,title\n1,One\n")
    assert load_log(tmp_path, items=items).titles() == {1: "One"}  # movies.csv not needed


def test_iso_times_and_integral_float_ids(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("userId,movieId,when\n1,2.0,2020-01-01T00:00:10Z\n1,3,2020-01-01 00:01:00\n")
    data = load_log(path, time_col="when")
    assert data.ratings["movieId"].tolist() == [2, 3]
    assert data.ratings["timestamp"].tolist() == [1_577_836_810, 1_577_836_860]


def test_tsv_and_gzip(tmp_path):
    import gzip

    tsv = tmp_path / "log.tsv"
    tsv.write_text("userId\tmovieId\n1\t2\n")
    assert load_log(tsv).ratings["movieId"].tolist() == [2]
    gz = tmp_path / "log.csv.gz"
    gz.write_bytes(gzip.compress(b"userId,movieId,rating\n4,5,2.5\n"))
    assert load_log(gz).ratings["rating"].tolist() == [2.5]


# ------------------------------------------------------------------------------ bad inputs

@pytest.mark.parametrize(
    "text, options, expected",
    [
        ("uid,sku\n1,2\nu9,3\n", CUSTOM | {"time_col": None}, "log.csv line 3: uid 'u9' is not an integer."),
        ("uid,sku\n1,2\n2,\n", CUSTOM | {"time_col": None}, "log.csv line 3: sku '' is not an integer."),
        ("userId,movieId,rating\n1,2,4\n1,3,nan\n", {}, "log.csv line 3: rating 'nan' is not a number."),
        ("userId,movieId,rating\n1,2,inf\n", {}, "log.csv line 2: rating 'inf' is not a finite number."),
        ("userId,movieId,timestamp\n1,2,5\n1,3,soon\n", {},
         "log.csv line 3: timestamp 'soon' is not an integer (Unix seconds) or an ISO-8601 date and time."),
        ("userId,movieId\n1,2\n3,4,5\n", {}, "log.csv line 3: expected 2 columns, got 3 ('3,4,5')."),
        ("uid,item\n1,2\n", CUSTOM, "log.csv lacks column(s) sku, ts; found uid, item."),
        ("userId,movieId,Rating\n1,2,3\n", {"rating_col": "score"},
         "log.csv lacks column(s) score; found userId, movieId, Rating."),
        ("", {}, "log.csv is empty; expected a CSV header with columns userId, movieId, rating, timestamp."),
        ("userId,movieId\n", {}, "log.csv has a header but no rows."),
    ],
)
def test_bad_csv_log(tmp_path, text, options, expected):
    path = tmp_path / "log.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_log(path, **options)
    assert one_sentence(info.value) == f"{tmp_path}/{expected}"


def test_bad_value_after_a_column_that_needed_text(tmp_path):
    # movieId needs the text path ("2.0"); the bad rating further right is still found.
    path = tmp_path / "log.csv"
    path.write_text("userId,movieId,rating\n1,2.0,1\n1,3,x\n")
    with pytest.raises(DataError) as info:
        load_log(path)
    assert one_sentence(info.value) == f"{path} line 3: rating 'x' is not a number."


@pytest.mark.parametrize(
    "table, expected",
    [
        (pa.table({"userId": [1, None], "movieId": [1, 2]}), "row 2: userId is empty (null); every row needs a value."),
        (pa.table({"userId": [1, 2], "movieId": ["1", "b"]}), "row 2: movieId 'b' is not an integer."),
        (pa.table({"userId": [1, 2], "movieId": [1.0, 2.5]}), "row 2: movieId 2.5 is not an integer."),
        (pa.table({"userId": [1], "movieId": [1], "rating": [float("nan")]}), "row 1: rating 'nan' is not a number."),
        (pa.table({"user": [1], "movieId": [1]}), "lacks column(s) userId; found user, movieId."),
        (pa.table({"userId": pa.array([], pa.int64()), "movieId": pa.array([], pa.int64())}), "has no rows."),
    ],
)
def test_bad_parquet_log(tmp_path, table, expected):
    path = tmp_path / "log.parquet"
    pq.write_table(table, path)
    with pytest.raises(DataError) as info:
        load_log(path)
    message = one_sentence(info.value)
    assert message.startswith(str(path)) and message.endswith(expected), message


def test_unreadable_parquet_and_sources(tmp_path):
    path = tmp_path / "log.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="Cannot read .*log.parquet as a Parquet file"):
        load_log(path)
    with pytest.raises(DataError, match="does not exist; pass a CSV or Parquet log"):
        load_log(tmp_path / "missing.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no ratings.csv and no Parquet or CSV parts"):
        load_log(empty)


def test_movielens_range_is_only_for_movielens(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating\n1,1,10\n")
    (tmp_path / "movies.csv").write_text("movieId,title\n1,A\n")
    with pytest.raises(DataError, match="line 2: rating 10 is outside the MovieLens range"):
        load_log(tmp_path)
    other = tmp_path / "log.csv"
    other.write_text("userId,movieId,rating\n1,1,10\n")
    assert load_log(other).ratings["rating"].tolist() == [10.0]


# ------------------------------------------------------------------------- CLI-side helpers

def test_rating_options_refused_for_implicit_logs(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("userId,movieId\n1,1\n")
    implicit = load_log(path)
    check_rating_options(implicit, {"--min-rating": None})  # presets' thresholds: fine
    with pytest.raises(ParameterError) as info:
        check_rating_options(implicit, {"--min-rating": 4.0, "--threshold": None})
    message = one_sentence(info.value)
    assert "has no rating column" in message and "--min-rating cannot apply" in message
    explicit = Ratings(ratings=implicit.ratings, movies=implicit.movies, source="x", md5="")
    check_rating_options(explicit, {"--min-rating": 4.0})


def test_flag_table_wires_into_argparse():
    parser = argparse.ArgumentParser()
    add_log_arguments(parser)
    assert [flag for flag, _, _ in LOG_FLAGS] == ["--user-col", "--item-col", "--rating-col", "--time-col", "--items"]
    args = parser.parse_args(["--user-col", "uid", "--rating-col", "", "--items", "items.csv"])
    assert log_options(args) == {"user_col": "uid", "rating_col": "", "items": "items.csv"}
    assert log_options(parser.parse_args([])) == {}


@pytest.mark.slow
def test_implicit_parquet_parts_train_end_to_end(ml_small, tmp_path):
    from recgraph.pipeline import train

    liked = ml_small.ratings[ml_small.ratings["rating"] >= 4.0]
    clicks = liked.rename(columns={"userId": "visitor", "movieId": "product", "timestamp": "ts"})
    clicks = clicks.drop(columns="rating")
    parts = tmp_path / "clicks"
    parts.mkdir()
    half = len(clicks) // 2
    clicks.iloc[:half].to_parquet(parts / "part-0.parquet", index=False)
    clicks.iloc[half:].to_parquet(parts / "part-1.parquet", index=False)
    log = load_log(parts, user_col="visitor", item_col="product", time_col="ts")
    assert log.implicit and not log.has_titles and len(log.ratings) == len(liked)
    out = tmp_path / "artifact"
    from recgraph.config import resolve_config

    train(log, out, resolve_config(seed=1, trainer={"workers": 1}), show_progress=False)
    items = pd.read_csv(out / "items.csv")
    assert len(items) > 100
    assert items["title"].str.fullmatch(r"item \d+").all()
    assert set(items["item_id"]) <= set(liked["movieId"])
