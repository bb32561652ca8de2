namespace Kairo.Control.Plane;

/// <summary>What the control plane has seen of requests, for status and metrics.</summary>
public sealed class ControlPlaneCounters
{
    private long _received;
    private long _executed;
    private long _rejected;
    private long _busy;
    private long _unanswerable;

    /// <summary>Requests that arrived on <c>cmd/+</c>.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Requests that reached their handler.</summary>
    public long Executed => Interlocked.Read(ref _executed);

    /// <summary>Requests refused before any handler ran: too large, malformed, unknown.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Requests refused because the queue was full.</summary>
    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Replies that could not be sent: no reply address, or an invalid one.</summary>
    public long Unanswerable => Interlocked.Read(ref _unanswerable);

    internal void CountReceived() => Interlocked.Increment(ref _received);

    internal void CountExecuted() => Interlocked.Increment(ref _executed);

    internal void CountRejected() => Interlocked.Increment(ref _rejected);

    internal void CountBusy() => Interlocked.Increment(ref _busy);

    internal void CountUnanswerable() => Interlocked.Increment(ref _unanswerable);
}
