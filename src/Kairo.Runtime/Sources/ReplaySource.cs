using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Sources;

/// <summary>
/// Input frames from a recording (<see cref="ReplayFile"/>): one record per tick, in order, starting again at the
/// end; or, without looping, the last frame kept once the recording is used up (every later tick counts stale).
/// The file is loaded and checked whole at <see cref="Open"/>, so a tick never touches the disk.
/// </summary>
public sealed class ReplaySource : IFrameSource
{
    private readonly bool _loop;
    private ReplayFile? _file;
    private int _next;
    private long _laps;

    public ReplaySource(string path, bool loop = true)
    {
        Path = path;
        _loop = loop;
    }

    public string Path { get; }

    public string Description => $"replay {Path}{(_loop ? "" : " (once)")}";

    public SourceCounters Counters { get; } = new();

    /// <summary>Records in the loaded recording (0 before <see cref="Open"/>).</summary>
    public int RecordCount => _file?.Count ?? 0;

    /// <summary>Times the recording ran to its end.</summary>
    public long Laps => Volatile.Read(ref _laps);

    public void Open(FrameLayout layout) => _file = ReplayFile.Load(Path, layout);

    public bool TryRead(Span<byte> frame, out ulong sequence)
    {
        var file = _file!;
        if (_next == file.Count)
        {
            if (!_loop)
            {
                sequence = 0;
                return false;
            }

            _next = 0;
        }

        file.Payload(_next).CopyTo(frame);
        sequence = file.Sequence(_next);
        if (++_next == file.Count)
        {
            Volatile.Write(ref _laps, _laps + 1);
        }

        Counters.CountFrame();
        return true;
    }

    public void Dispose()
    {
    }
}
