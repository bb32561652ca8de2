using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kairo.Updates.Device;

/// <summary>The steps of an update in order, then its ends. A step is written to the journal before it starts.</summary>
public enum UpdateStep
{
    Download,
    Verify,
    Stage,
    Validate,
    Activate,
    Health,
    Commit,

    /// <summary>The new version is active and committed.</summary>
    Committed,

    /// <summary>Refused or failed before it went live; the old model never stopped.</summary>
    Failed,

    /// <summary>It went live, then the old version was put back.</summary>
    RolledBack,
}

/// <summary>One update as the journal records it.</summary>
public sealed record UpdateRecord
{
    public required string JobId { get; init; }

    public required string Url { get; init; }

    public required UpdateStep Step { get; init; }

    public string? Model { get; init; }

    public long? Version { get; init; }

    public string? Release { get; init; }

    /// <summary>The store digest of the package, once staged.</summary>
    public string? Digest { get; init; }

    /// <summary>The version that was active when the update started (null: the profile's model).</summary>
    public long? PreviousVersion { get; init; }

    /// <summary>The failure code (<see cref="UpdateFailures.ToCode"/>) of a failed or rolled-back update.</summary>
    public string? Failure { get; init; }

    public string? Message { get; init; }

    public required DateTimeOffset Started { get; init; }

    public required DateTimeOffset Updated { get; init; }

    /// <summary>How often the device stopped during this update and picked it up again.</summary>
    public int Resumes { get; init; }

    [JsonIgnore]
    public bool Finished => Step is UpdateStep.Committed or UpdateStep.Failed or UpdateStep.RolledBack;
}

/// <summary>
/// The update journal under the state directory: <c>updates/current.json</c> holds the unfinished update, replaced
/// atomically (write, fsync, rename, fsync the directory) at each step before the step starts; a finished update
/// moves to <c>updates/history.jsonl</c> (the newest <see cref="HistoryLimit"/> kept). The part file of a download
/// lives beside it as <c>updates/{jobId}.kpkg.part</c>.
/// </summary>
/// <remarks>
/// <para>Records are camelCase JSON with the step as its snake_case name (<c>rolled_back</c>); history.jsonl holds
/// one record per line, oldest first. A finished update is appended to the history (and fsynced) before
/// current.json goes, so a crash in between leaves it in both; opening the journal finds that and finishes the move.</para>
/// <para>Thread-safe; one process owns a journal directory.</para>
/// </remarks>
public sealed class UpdateJournal
{
    public const int HistoryLimit = 50;

    public const string CurrentFileName = "current.json";

    public const string CorruptFileName = "current.json.corrupt";

    public const string HistoryFileName = "history.jsonl";

    public const string PartExtension = ".kpkg.part";

    /// <summary>The longest job id.</summary>
    public const int MaxJobIdLength = 64;

    private readonly string _current;
    private readonly string _corrupt;
    private readonly string _history;
    private readonly Lock _gate = new();

    /// <param name="directory">The journal's directory, e.g. <c>/var/lib/kairo/updates</c>; created when missing.</param>
    public UpdateJournal(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        _current = Path.Combine(Directory, CurrentFileName);
        _corrupt = Path.Combine(Directory, CorruptFileName);
        _history = Path.Combine(Directory, HistoryFileName);
        System.IO.Directory.CreateDirectory(Directory);
        Recover();
    }

    public string Directory { get; }

    /// <summary>The unfinished update, or null. A journal file that does not parse is moved aside (<c>current.json.corrupt</c>) and reads as none.</summary>
    /// <remarks>Read from the file each time. "Does not parse" includes a member missing, an unknown step, a bad job id,
    /// and a finished record, which this journal never leaves in current.json.</remarks>
    public UpdateRecord? Current
    {
        get
        {
            lock (_gate)
            {
                return ReadCurrent();
            }
        }
    }

    /// <summary>Finished updates, newest first. Lines that do not parse (a torn last line after a power cut) are skipped.</summary>
    public IReadOnlyList<UpdateRecord> History
    {
        get
        {
            lock (_gate)
            {
                return ReadHistory();
            }
        }
    }

    /// <summary>
    /// True when <paramref name="jobId"/> may name a job: 1 to 64 of <c>A-Z a-z 0-9 . _ -</c>, not starting with a
    /// dot. The id becomes a file name (<see cref="PartPath"/>), so it can neither leave the directory nor hide.
    /// </summary>
    public static bool IsValidJobId(string? jobId)
    {
        if (jobId is not { Length: > 0 and <= MaxJobIdLength } || jobId[0] == '.')
        {
            return false;
        }

        foreach (char c in jobId)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Where the download of <paramref name="jobId"/> is written.</summary>
    /// <exception cref="ArgumentException"><paramref name="jobId"/> breaks the rule of <see cref="IsValidJobId"/>.</exception>
    public string PartPath(string jobId)
    {
        CheckJobId(jobId, nameof(jobId));
        return Path.Combine(Directory, jobId + PartExtension);
    }

    /// <summary>Persists <paramref name="record"/>: as the current update, or, once finished, into the history (and the current one and its part file are removed).</summary>
    /// <remarks>
    /// A finished record removes current.json only when current.json is that job's: a job refused while another
    /// runs is recorded without touching the running one.
    /// </remarks>
    /// <exception cref="ArgumentException">The record's job id breaks the rule of <see cref="IsValidJobId"/>.</exception>
    /// <exception cref="IOException">The journal could not be written; what was on disk before is unchanged.</exception>
    public void Write(UpdateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        CheckJobId(record.JobId, nameof(record));
        lock (_gate)
        {
            if (!record.Finished)
            {
                DurableFile.WriteAtomically(_current, DeviceJson.Serialize(record, DeviceJson.Files.UpdateRecord, indented: true));
                return;
            }

            AppendHistory(DeviceJson.Serialize(record, DeviceJson.Files.UpdateRecord, indented: false));
            if (ReadCurrent() is { } current && current.JobId == record.JobId)
            {
                File.Delete(_current);
            }

            File.Delete(PartPath(record.JobId));
            DurableFile.FsyncDirectory(Directory);
        }
    }

    private static void CheckJobId(string jobId, string parameter)
    {
        if (!IsValidJobId(jobId))
        {
            throw new ArgumentException(
                $"job id '{jobId}' is refused: a job id is 1 to {MaxJobIdLength} of A-Z a-z 0-9 . _ - and does not start with '.' (e.g. u20250601-1)",
                parameter);
        }
    }

    /// <summary>Removes what an interrupted write left: temporaries, and a current.json whose job already reached the history.</summary>
    private void Recover()
    {
        // Only the journal's own temporaries: a job id may contain ".tmp-" too, and its part file is not ours to drop.
        foreach (string file in (string[])[CurrentFileName, HistoryFileName])
        {
            foreach (string leftover in System.IO.Directory.EnumerateFiles(Directory, $"{file}{DurableFile.TemporaryInfix}*"))
            {
                File.Delete(leftover);
            }
        }

        if (ReadCurrent() is { } current && ReadHistory().Any(h => h.JobId == current.JobId))
        {
            File.Delete(_current);
            File.Delete(PartPath(current.JobId));
            DurableFile.FsyncDirectory(Directory);
        }
    }

    private UpdateRecord? ReadCurrent()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(_current);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        if (Parse(bytes) is { } record && !record.Finished)
        {
            return record;
        }

        // Kept for whoever investigates, out of the way of the next update; an older corrupt file is replaced.
        File.Move(_current, _corrupt, overwrite: true);
        DurableFile.FsyncDirectory(Directory);
        return null;
    }

    /// <summary>The record in <paramref name="utf8"/>, or null when it is not one (not JSON, a member missing, a bad job id).</summary>
    private static UpdateRecord? Parse(byte[] utf8)
    {
        try
        {
            UpdateRecord? record = JsonSerializer.Deserialize(utf8, DeviceJson.Files.UpdateRecord);
            return record is not null && IsValidJobId(record.JobId) && record.Url is not null ? record : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private List<UpdateRecord> ReadHistory()
    {
        var records = new List<UpdateRecord>();
        foreach (string line in ReadHistoryLines())
        {
            if (Parse(Encoding.UTF8.GetBytes(line)) is { } record)
            {
                records.Add(record);
            }
        }

        records.Reverse();
        return records;
    }

    private List<string> ReadHistoryLines()
    {
        try
        {
            return File.ReadAllLines(_history, Encoding.UTF8).Where(l => l.Length > 0).ToList();
        }
        catch (FileNotFoundException)
        {
            return [];
        }
    }

    private void AppendHistory(byte[] line)
    {
        List<string> lines = ReadHistoryLines();
        if (lines.Count >= HistoryLimit)
        {
            // Over the limit: rewrite the newest lines whole rather than trim in place, so a crash keeps the old file.
            var text = new StringBuilder();
            foreach (string kept in lines.Skip(lines.Count - HistoryLimit + 1))
            {
                text.Append(kept).Append('\n');
            }

            text.Append(Encoding.UTF8.GetString(line)).Append('\n');
            DurableFile.WriteAtomically(_history, Encoding.UTF8.GetBytes(text.ToString()));
            return;
        }

        bool created = !File.Exists(_history);
        using (var stream = new FileStream(_history, FileMode.Append, FileAccess.Write, FileShare.Read))
        {
            // A torn last line (a power cut mid-append) must not swallow this record: start on a line of its own.
            if (stream.Length > 0 && LastByte(_history) != (byte)'\n')
            {
                stream.WriteByte((byte)'\n');
            }

            stream.Write(line);
            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true);
        }

        if (created)
        {
            DurableFile.FsyncDirectory(Directory);
        }
    }

    private static byte LastByte(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(-1, SeekOrigin.End);
        return (byte)stream.ReadByte();
    }
}
