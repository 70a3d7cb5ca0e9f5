import zipfile

import pytest

from recgraph.data import load_log, load_movielens, parse_movies, parse_ratings
from recgraph.errors import DataError

MOVIES = b"movieId,title,genres\n1,A (2000),Drama\n2,B (2001),Comedy\n"


def write_dir(tmp_path, ratings: bytes, movies: bytes = MOVIES):
    (tmp_path / "ratings.csv").write_bytes(ratings)
    (tmp_path / "movies.csv").write_bytes(movies)
    return tmp_path


def test_real_archive_counts(ml_small):
    assert len(ml_small.ratings) == 100_836
    assert len(ml_small.movies) == 9_742
    assert ml_small.ratings["userId"].nunique() == 610
    assert ml_small.md5 == "31a303aabbc519bd33d025e44d6c2570"
    assert list(ml_small.ratings.columns) == ["userId", "movieId", "rating", "timestamp"]


def test_directory_source(tmp_path):
    src = write_dir(tmp_path, b"userId,movieId,rating,timestamp\n1,1,5.0,10\n1,2,4.5,11\n")
    data = load_movielens(src)
    assert data.ratings["rating"].tolist() == [5.0, 4.5]
    assert data.titles() == {1: "A (2000)", 2: "B (2001)"}


def test_archive_with_nested_folder(tmp_path):
    path = tmp_path / "custom.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("deep/ratings.csv", "userId,movieId,rating\n3,2,1.0\n")
        zf.writestr("deep/movies.csv", MOVIES.decode())
    data = load_movielens(path)
    assert data.ratings["movieId"].tolist() == [2]


def test_archive_without_its_rating_column_is_an_implicit_log(tmp_path):
    # rating_col=None asks for no rating column; this used to fail in the MovieLens range check.
    path = tmp_path / "custom.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ratings.csv", "userId,movieId,rating\n3,2,1.0\n3,1,9.0\n")
        zf.writestr("movies.csv", MOVIES.decode())
    data = load_log(path, rating_col=None)
    assert data.implicit
    assert data.ratings["movieId"].tolist() == [2, 1]
    with pytest.raises(DataError, match="rating 9 is outside"):
        load_log(path)


@pytest.mark.parametrize(
    "ratings, message",
    [
        (b"", "is empty"),
        (b"userId,movieId,rating\n", "no rows"),
        (b"userId,movieId\n1,2\n", "lacks column(s) rating"),
        (b"userId,movieId,rating\n1,2,4\n1,3,five\n", "line 3: rating 'five' is not a number"),
        (b"userId,movieId,rating\n1,2,4\n1,3,7.5\n", "line 3: rating 7.5 is outside"),
        (b"userId,movieId,rating\n1,2,4\n1,3,0\n", "line 3: rating 0 is outside"),
        (b"userId,movieId,rating\n1,2.5,4\n", "line 2: movieId '2.5' is not an integer"),
        (b"userId,movieId,rating\nx,2,4\n", "line 2: userId 'x' is not an integer"),
    ],
)
def test_bad_ratings(tmp_path, ratings, message):
    src = write_dir(tmp_path, ratings)
    with pytest.raises(DataError) as info:
        load_movielens(src)
    assert message in str(info.value)
    assert "ratings.csv" in str(info.value)


def test_missing_file(tmp_path):
    (tmp_path / "ratings.csv").write_bytes(b"userId,movieId,rating\n1,1,5\n")
    with pytest.raises(DataError, match="movies.csv is missing"):
        load_movielens(tmp_path)


def test_missing_source(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_movielens(tmp_path / "nope.zip")


def test_unreadable_archive(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"this is not a zip")
    with pytest.raises(DataError, match="Cannot read .* as a zip archive"):
        load_movielens(path)


def test_archive_without_ratings(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("movies.csv", MOVIES.decode())
    with pytest.raises(DataError, match="holds no ratings.csv"):
        load_movielens(path)


def test_checksum_of_default_archive_name(tmp_path):
    path = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ratings.csv", "userId,movieId,rating\n1,1,5\n")
        zf.writestr("movies.csv", MOVIES.decode())
    with pytest.raises(DataError, match="GroupLens publishes 31a303aa"):
        load_movielens(path)


def test_offline_download_says_how_to_pass_a_local_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RECGRAPH_DATA_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError) as info:
        load_movielens("http://127.0.0.1:9/ml-latest-small.zip")
    assert "--data path/to/ml-latest-small.zip" in str(info.value)
    assert not list((tmp_path / "cache").glob("*.zip"))


def test_cached_download_is_reused(tmp_path, monkeypatch, ml_small_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ml-latest-small.zip").write_bytes(ml_small_path.read_bytes())
    monkeypatch.setenv("RECGRAPH_DATA_DIR", str(cache))
    data = load_movielens("https://example.invalid/ml-latest-small.zip")
    assert len(data.ratings) == 100_836


def test_duplicate_movie_ids():
    with pytest.raises(DataError, match="movieId 1 appears twice"):
        parse_movies(b"movieId,title\n1,A\n1,B\n")


def test_parse_ratings_without_timestamp():
    frame = parse_ratings(b"userId,movieId,rating\n1,2,3.5\n")
    assert "timestamp" not in frame.columns


def test_archive_member_errors_name_the_member_and_line(tmp_path):
    path = tmp_path / "custom.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml/ratings.csv", "userId,movieId,rating\n1,2,4\n1,x,3\n")
        zf.writestr("ml/movies.csv", MOVIES.decode())
    with pytest.raises(DataError) as info:
        load_movielens(path)
    assert str(info.value) == f"{path}:ratings.csv line 3: movieId 'x' is not an integer."


def test_archive_streams_a_large_member(tmp_path, monkeypatch):
    # Many pyarrow blocks out of one deflated member, read without extracting it.
    monkeypatch.setattr("recgraph.data.csvfile.BLOCK_BYTES", 1 << 14)
    rows = 50_000
    body = "".join(f"{u},{u % 7 + 1},{(u % 10 + 1) / 2},{u}\n" for u in range(rows))
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ratings.csv", "userId,movieId,rating,timestamp\n" + body)
        zf.writestr("movies.csv", MOVIES.decode())
    data = load_movielens(path)
    assert len(data.ratings) == rows
    assert data.ratings["userId"].iloc[-1] == rows - 1
    assert list(tmp_path.iterdir()) == [path]
