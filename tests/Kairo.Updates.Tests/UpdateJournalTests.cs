using System.Text.Json;
using Kairo.Updates.Device;

namespace Kairo.Updates.Tests;

/// <summary>The update journal on a real directory: current.json per step, the history, the part files, damage.</summary>
public sealed class UpdateJournalTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly ScratchDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string JournalDirectory => _scratch.Combine("updates");

    private string CurrentPath => _scratch.Combine("updates", UpdateJournal.CurrentFileName);

    private string HistoryPath => _scratch.Combine("updates", UpdateJournal.HistoryFileName);

    [Fact]
    public void EveryFieldSurvivesAWriteAndARestart()
    {
        var record = new UpdateRecord
        {
            JobId = "u20250601-1",
            Url = "https://updates.example/pilotnet-v3.kpkg",
            Step = UpdateStep.Validate,
            Model = "pilotnet",
            Version = 3,
            Release = "2025.06-rc1 \"quoted\" ünïcode",
            Digest = new string('a', 64),
            PreviousVersion = 2,
            Failure = "golden_mismatch",
            Message = "checking <golden> & latency",
            Started = Start,
            Updated = new DateTimeOffset(2025, 6, 1, 14, 30, 15, 123, TimeSpan.FromHours(2)),
            Resumes = 2,
        };

        new UpdateJournal(JournalDirectory).Write(record);
        UpdateRecord? read = new UpdateJournal(JournalDirectory).Current;

        Assert.Equal(record, read);
        Assert.Equal(record.Updated.Offset, read!.Updated.Offset);
        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(CurrentPath));
        Assert.Equal("validate", json.RootElement.GetProperty("step").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("previousVersion").GetInt64());
        Assert.Equal("u20250601-1", json.RootElement.GetProperty("jobId").GetString());
        Assert.False(json.RootElement.TryGetProperty("finished", out _));
        Assert.Contains("ünïcode", File.ReadAllText(CurrentPath)); // relaxed escaping: readable in a terminal
    }

    [Fact]
    public void NullFieldsAreLeftOutAndReadBackAsNull()
    {
        var journal = new UpdateJournal(JournalDirectory);
        UpdateRecord record = Record("job-1", UpdateStep.Download);

        journal.Write(record);

        Assert.Equal(record, journal.Current);
        Assert.DoesNotContain("\"model\"", File.ReadAllText(CurrentPath));
    }

    [Fact]
    public void EachStepReplacesCurrentJsonByRenameAndLeavesNoTemporary()
    {
        var journal = new UpdateJournal(JournalDirectory);
        UpdateStep[] steps = [UpdateStep.Download, UpdateStep.Verify, UpdateStep.Stage, UpdateStep.Validate, UpdateStep.Activate, UpdateStep.Health, UpdateStep.Commit];
        string[] names = ["download", "verify", "stage", "validate", "activate", "health", "commit"];
        string? previousText = null;

        for (int i = 0; i < steps.Length; i++)
        {
            FileStream? before = File.Exists(CurrentPath) ? new FileStream(CurrentPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite) : null;

            journal.Write(Record("job-1", steps[i]));

            if (before is not null)
            {
                // The old file is whole to whoever opened it: the new one is another file renamed over it.
                using var reader = new StreamReader(before);
                Assert.Equal(previousText, reader.ReadToEnd());
            }

            previousText = File.ReadAllText(CurrentPath);
            using JsonDocument json = JsonDocument.Parse(previousText);
            Assert.Equal(names[i], json.RootElement.GetProperty("step").GetString());
            Assert.Equal(steps[i], journal.Current!.Step);
            Assert.Equal([UpdateJournal.CurrentFileName], Names());
        }
    }

    [Theory]
    [InlineData(UpdateStep.Committed, "committed")]
    [InlineData(UpdateStep.Failed, "failed")]
    [InlineData(UpdateStep.RolledBack, "rolled_back")]
    public void AFinishedUpdateMovesToTheHistoryAndTakesItsPartFileAlong(UpdateStep end, string name)
    {
        var journal = new UpdateJournal(JournalDirectory);
        journal.Write(Record("job-1", UpdateStep.Download));
        File.WriteAllBytes(journal.PartPath("job-1"), [1, 2, 3]);
        journal.Write(Record("job-1", UpdateStep.Health));

        journal.Write(Record("job-1", end) with { Failure = end == UpdateStep.Committed ? null : "health_failed" });

        Assert.Null(journal.Current);
        Assert.Null(new UpdateJournal(JournalDirectory).Current);
        Assert.False(File.Exists(CurrentPath));
        Assert.False(File.Exists(journal.PartPath("job-1")));
        UpdateRecord finished = Assert.Single(journal.History);
        Assert.Equal(end, finished.Step);
        Assert.Equal("job-1", finished.JobId);
        string line = Assert.Single(File.ReadAllLines(HistoryPath));
        Assert.Equal(name, JsonDocument.Parse(line).RootElement.GetProperty("step").GetString());
        Assert.Equal([UpdateJournal.HistoryFileName], Names());
    }

    [Fact]
    public void TheHistoryIsNewestFirst()
    {
        var journal = new UpdateJournal(JournalDirectory);
        journal.Write(Record("job-a", UpdateStep.Committed));
        journal.Write(Record("job-b", UpdateStep.Failed));
        journal.Write(Record("job-c", UpdateStep.RolledBack));

        Assert.Equal(["job-c", "job-b", "job-a"], new UpdateJournal(JournalDirectory).History.Select(r => r.JobId));
    }

    [Fact]
    public void AJobFinishedWhileAnotherRunsLeavesTheRunningOneAlone()
    {
        var journal = new UpdateJournal(JournalDirectory);
        UpdateRecord running = Record("running", UpdateStep.Stage);
        journal.Write(running);
        File.WriteAllBytes(journal.PartPath("running"), [1]);

        journal.Write(Record("refused", UpdateStep.Failed) with { Failure = "cancelled" });

        Assert.Equal(running, journal.Current);
        Assert.True(File.Exists(journal.PartPath("running")));
        Assert.Equal("refused", Assert.Single(journal.History).JobId);
    }

    [Fact]
    public void TheHistoryKeepsTheNewestLimitRecords()
    {
        var journal = new UpdateJournal(JournalDirectory);

        for (int i = 0; i < UpdateJournal.HistoryLimit + 10; i++)
        {
            journal.Write(Record($"job-{i}", UpdateStep.Committed));
        }

        IReadOnlyList<UpdateRecord> history = journal.History;
        Assert.Equal(UpdateJournal.HistoryLimit, history.Count);
        Assert.Equal($"job-{UpdateJournal.HistoryLimit + 9}", history[0].JobId);
        Assert.Equal("job-10", history[^1].JobId);
        Assert.Equal(UpdateJournal.HistoryLimit, File.ReadAllLines(HistoryPath).Length);
        Assert.Equal([UpdateJournal.HistoryFileName], Names());
    }

    [Fact]
    public void UnparseableHistoryLinesAreSkippedAndATornLastLineSwallowsNothing()
    {
        var journal = new UpdateJournal(JournalDirectory);
        journal.Write(Record("job-a", UpdateStep.Committed));
        File.AppendAllText(HistoryPath, "not json at all\n{\"jobId\": \"job-torn\", \"url\": \"ht");

        journal.Write(Record("job-b", UpdateStep.Failed));

        Assert.Equal(["job-b", "job-a"], journal.History.Select(r => r.JobId));
    }

    [Fact]
    public void AnUnparseableCurrentJsonIsMovedAsideAndReadsAsNone()
    {
        Directory.CreateDirectory(JournalDirectory);
        string corrupt = _scratch.Combine("updates", UpdateJournal.CorruptFileName);
        File.WriteAllText(corrupt, "an older corrupt file");
        File.WriteAllText(CurrentPath, "{\"jobId\": \"job-1\", \"step\": \"dow");

        var journal = new UpdateJournal(JournalDirectory);

        Assert.Null(journal.Current);
        Assert.False(File.Exists(CurrentPath));
        Assert.Equal("{\"jobId\": \"job-1\", \"step\": \"dow", File.ReadAllText(corrupt));

        journal.Write(Record("job-2", UpdateStep.Download));
        File.WriteAllText(CurrentPath, "{\"jobId\": \"job-2\", \"url\": \"u\", \"step\": \"no_such_step\", \"started\": \"2025-06-01T12:00:00Z\", \"updated\": \"2025-06-01T12:00:00Z\"}");
        Assert.Null(journal.Current);
        Assert.Contains("no_such_step", File.ReadAllText(corrupt));
    }

    [Fact]
    public void AnEmptyCurrentJsonIsMovedAside()
    {
        var journal = new UpdateJournal(JournalDirectory);
        File.WriteAllBytes(CurrentPath, []);

        Assert.Null(journal.Current);
        Assert.True(File.Exists(_scratch.Combine("updates", UpdateJournal.CorruptFileName)));
    }

    [Fact]
    public void OpeningFinishesAMoveToTheHistoryThatACrashInterrupted()
    {
        var journal = new UpdateJournal(JournalDirectory);
        journal.Write(Record("job-1", UpdateStep.Commit));
        File.WriteAllBytes(journal.PartPath("job-1"), [1]);
        // The crash: the finished record reached the history, current.json and the part file did not go.
        byte[] current = File.ReadAllBytes(CurrentPath);
        journal.Write(Record("job-1", UpdateStep.Committed));
        File.WriteAllBytes(CurrentPath, current);
        File.WriteAllBytes(journal.PartPath("job-1"), [1]);
        File.WriteAllText(CurrentPath + DurableFile.TemporaryInfix + "0123456789ab", "{\"half");

        var reopened = new UpdateJournal(JournalDirectory);

        Assert.Null(reopened.Current);
        Assert.Equal(UpdateStep.Committed, Assert.Single(reopened.History).Step);
        Assert.Equal([UpdateJournal.HistoryFileName], Names());
    }

    [Fact]
    public void OpeningKeepsThePartFileOfAJobWhoseIdLooksLikeATemporary()
    {
        var journal = new UpdateJournal(JournalDirectory);
        journal.Write(Record("job.tmp-1", UpdateStep.Download));
        File.WriteAllBytes(journal.PartPath("job.tmp-1"), [1, 2]);

        var reopened = new UpdateJournal(JournalDirectory);

        Assert.Equal("job.tmp-1", reopened.Current!.JobId);
        Assert.Equal([1, 2], File.ReadAllBytes(reopened.PartPath("job.tmp-1")));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("../escape")]
    [InlineData("with space")]
    [InlineData("ünï")]
    [InlineData("a\nb")]
    [InlineData("y1234567890123456789012345678901234567890123456789012345678901234")]
    public void InvalidJobIdsAreRefusedNamingTheRule(string jobId)
    {
        var journal = new UpdateJournal(JournalDirectory);

        Assert.False(UpdateJournal.IsValidJobId(jobId));
        var ex = Assert.Throws<ArgumentException>(() => journal.PartPath(jobId));
        Assert.Contains("A-Z a-z 0-9 . _ -", ex.Message);
        Assert.Throws<ArgumentException>(() => journal.Write(Record(jobId, UpdateStep.Download)));
        Assert.Null(journal.Current);
        Assert.Empty(Names());
    }

    [Theory]
    [InlineData("a")]
    [InlineData("u20250601-1")]
    [InlineData("A.b_c-9")]
    [InlineData("x123456789012345678901234567890123456789012345678901234567890123")]
    public void ValidJobIdsNameTheirPartFileInTheJournalDirectory(string jobId)
    {
        var journal = new UpdateJournal(JournalDirectory);

        Assert.True(UpdateJournal.IsValidJobId(jobId));
        Assert.Equal(Path.Combine(journal.Directory, jobId + ".kpkg.part"), journal.PartPath(jobId));
    }

    private static UpdateRecord Record(string jobId, UpdateStep step) => new()
    {
        JobId = jobId,
        Url = $"http://127.0.0.1:8780/{jobId}.kpkg",
        Step = step,
        Started = Start,
        Updated = Start.AddMinutes((int)step),
    };

    private string[] Names() =>
        Directory.Exists(JournalDirectory) ? [.. Directory.EnumerateFileSystemEntries(JournalDirectory).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal)] : [];
}
