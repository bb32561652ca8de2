namespace Kairo.Control.Interop;

/// <summary>How a session's network thread ended.</summary>
internal enum SessionCloseOutcome
{
    /// <summary>The thread ended by itself after the DISCONNECT (or had never started); everything is released.</summary>
    Stopped,

    /// <summary>The thread was cancelled; everything is released.</summary>
    Cancelled,

    /// <summary>
    /// Not finished within the time limit: a handler has not returned, or the thread or the clean-up is stuck in
    /// native code. The native client and the GCHandle stay allocated, and are released if it ever finishes.
    /// </summary>
    Stuck,
}

// Closing a session within a time limit.
//
// libmosquitto offers mosquitto_loop_stop(force: false), a join that returns once the thread has ended by itself,
// and mosquitto_loop_stop(force: true), which cancels the thread first. The two must never run at once: each reads
// the thread id unlocked and writes its own id there when done, so a second call can join a thread the first has
// already reaped and hang for good (seen with 2.0.11 on glibc 2.36). Hence exactly one call, chosen up front:
//  - the DISCONNECT went out and the thread reported it (on_disconnect): it is on its way out, so join it;
//  - otherwise (never connected, broker gone, TLS handshake or TCP connect hanging, or no report within the time
//    limit): cancel it. It then sits in select, connect, nanosleep or a read, all cancellation points.
// Unwinding a cancelled thread through managed frames would be fatal, so before that the callbacks are taken out of
// libmosquitto: its setters take the lock its callbacks run under, so once they return no callback runs or can
// start. The call, the destroy and freeing the GCHandle run on a helper thread, which the caller waits for up to the
// time limit: the caller never blocks longer than twice that, whatever libmosquitto does.

internal sealed unsafe partial class MosquittoSession
{
    private readonly ManualResetEventSlim _disconnectReported = new();
    private readonly object _acknowledgements = new();
    private readonly HashSet<int> _unacknowledged = [];
    private int _disconnectRequested;

    /// <summary>
    /// Waits until the broker has acknowledged every QoS 1 or 2 message published on this session, or the timeout.
    /// Call it before <see cref="Disconnect"/>: once libmosquitto has been asked to disconnect, any packet it reads
    /// before its thread has written the DISCONNECT (a late PUBACK included) is a protocol error to it, and it closes
    /// the socket without the DISCONNECT, so the broker publishes the last will. Returns how many are still open.
    /// </summary>
    public int WaitForAcknowledgements(TimeSpan timeout)
    {
        long until = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_acknowledgements)
        {
            while (_unacknowledged.Count > 0)
            {
                long left = until - Environment.TickCount64;
                if (left <= 0)
                {
                    break;
                }

                Monitor.Wait(_acknowledgements, (int)left);
            }

            return _unacknowledged.Count;
        }
    }

    /// <summary>The broker acknowledged message <paramref name="messageId"/> (or libmosquitto sent a QoS 0 one).</summary>
    private void Acknowledged(int messageId)
    {
        lock (_acknowledgements)
        {
            if (_unacknowledged.Remove(messageId) && _unacknowledged.Count == 0)
            {
                Monitor.PulseAll(_acknowledgements);
            }
        }
    }

    /// <summary>
    /// Stops the network thread and releases the native client and the GCHandle. Call <see cref="Disconnect"/> first
    /// for a clean end; <paramref name="graceful"/> says whether to wait (up to <paramref name="timeout"/>) for the
    /// DISCONNECT to go out before considering a cancel.
    /// </summary>
    /// <param name="problem">For <see cref="SessionCloseOutcome.Stuck"/>, what was still going on.</param>
    public SessionCloseOutcome Close(bool graceful, TimeSpan timeout, out string? problem)
    {
        Mute();
        bool exiting = _loopRunning && graceful && _disconnectReported.Wait(timeout);
        bool cancel = _loopRunning && !exiting;
        var finished = new ManualResetEventSlim();
        new Thread(() => CloseNow(cancel, finished)) { IsBackground = true, Name = "kairo-mqtt-close" }.Start();
        if (!finished.Wait(timeout))
        {
            problem = cancel
                ? "a handler is still running, or the cancelled thread or its clean-up is stuck"
                : "the thread has not ended after sending DISCONNECT";
            return SessionCloseOutcome.Stuck;
        }

        problem = null;
        return cancel ? SessionCloseOutcome.Cancelled : SessionCloseOutcome.Stopped;
    }

    /// <summary>Releases a session whose network thread never started.</summary>
    public void Release()
    {
        _handle.Dispose();
        _self.Free();
    }

    private void CloseNow(bool cancel, ManualResetEventSlim finished)
    {
        // Waits for any callback in progress (a handler, or a log line on another thread); none can start afterwards.
        ClearCallbacks();
        if (_loopRunning)
        {
            Mosquitto.LoopStop(_handle, force: cancel);
            _loopRunning = false;
        }

        _handle.Dispose(); // mosquitto_destroy, here or, if a call on another thread still holds it, when that returns.
        _self.Free();
        finished.Set();
    }

    private void ClearCallbacks()
    {
        Mosquitto.ConnectV5CallbackSet(_handle, null);
        Mosquitto.DisconnectV5CallbackSet(_handle, null);
        Mosquitto.MessageV5CallbackSet(_handle, null);
        Mosquitto.PublishV5CallbackSet(_handle, null);
        Mosquitto.SubscribeV5CallbackSet(_handle, null);
        Mosquitto.LogCallbackSet(_handle, null);
    }
}
