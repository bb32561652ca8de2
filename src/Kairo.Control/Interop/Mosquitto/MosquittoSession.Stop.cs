namespace Kairo.Control.Interop;

/// <summary>How a session's network thread ended.</summary>
internal enum LoopStopOutcome
{
    /// <summary>The thread ended by itself; the session can be released.</summary>
    Stopped,

    /// <summary>The thread was cancelled after the time limit; the session can be released.</summary>
    Forced,

    /// <summary>The thread is still there (stuck in a handler or in code that cannot be cancelled); abandon the session.</summary>
    Stuck,
}

// Stopping libmosquitto's network thread within a time limit.
//
// mosquitto_loop_stop(force: false) joins the thread, which ends once it sees the client marked disconnected; it
// can take up to one and a half keep-alive periods when a TLS handshake or a connect is stuck, or forever if a
// handler blocks. So it runs on a helper thread, and after the time limit mosquitto_loop_stop(force: true) runs on a
// second helper: it cancels the network thread (pthread_cancel, acted on at the next cancellation point: select,
// connect, read, nanosleep) and joins it. glibc lets only one thread join another; the second joiner gets EINVAL at
// once, so whichever helper joins, both return once the thread is gone.
//
// Two rules keep the cancellation safe:
//  - no managed code may be running on the network thread when it is cancelled (unwinding through managed frames
//    is fatal): the session is muted, so new callbacks return at once, and the cancel waits until the callbacks
//    already running have left;
//  - a cancel that misses can only hit a helper: libmosquitto reads the thread id it cancels without a lock, and a
//    helper that has just finished its join writes its own id there. Helpers run with cancellation disabled and
//    stay alive until both are done, so a stray cancel finds a live thread that ignores it.

internal sealed unsafe partial class MosquittoSession
{
    /// <summary>
    /// Stops the network thread: gracefully if asked (the caller has sent DISCONNECT, or at least marked the client
    /// disconnected), within <paramref name="timeout"/>; then by cancelling it, within <paramref name="timeout"/>
    /// again. Never blocks longer than twice <paramref name="timeout"/>.
    /// </summary>
    public LoopStopOutcome Stop(bool graceful, TimeSpan timeout)
    {
        if (!_loopRunning)
        {
            return LoopStopOutcome.Stopped;
        }

        LoopStopper? stopper = null;
        LoopStopper? canceller = null;
        try
        {
            if (graceful)
            {
                stopper = LoopStopper.Start(_handle, force: false);
                if (stopper.Finished.Wait(timeout))
                {
                    _loopRunning = false;
                    return LoopStopOutcome.Stopped;
                }
            }

            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            Mute();
            if (!WaitForCallbacksToLeave(deadline))
            {
                return LoopStopOutcome.Stuck;
            }

            canceller = LoopStopper.Start(_handle, force: true);
            if (!canceller.Finished.Wait(Remaining(deadline)) || (stopper != null && !stopper.Finished.Wait(Remaining(deadline))))
            {
                return LoopStopOutcome.Stuck;
            }

            _loopRunning = false;
            return LoopStopOutcome.Forced;
        }
        finally
        {
            stopper?.Release();
            canceller?.Release();
        }
    }

    private bool WaitForCallbacksToLeave(long deadline)
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _callbacksRunning) != 0)
        {
            if (Environment.TickCount64 >= deadline)
            {
                return false;
            }

            spin.SpinOnce(sleep1Threshold: 20);
        }

        return true;
    }

    private static TimeSpan Remaining(long deadline) => TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));

    /// <summary>A helper thread that makes one mosquitto_loop_stop call, then waits to be released.</summary>
    private sealed class LoopStopper
    {
        private readonly SafeMosquittoHandle _handle;
        private readonly bool _force;
        private readonly ManualResetEventSlim _released = new();

        private LoopStopper(SafeMosquittoHandle handle, bool force)
        {
            _handle = handle;
            _force = force;
        }

        public ManualResetEventSlim Finished { get; } = new();

        public static LoopStopper Start(SafeMosquittoHandle handle, bool force)
        {
            var stopper = new LoopStopper(handle, force);
            new Thread(stopper.Run) { IsBackground = true, Name = force ? "kairo-mqtt-cancel" : "kairo-mqtt-stop" }.Start();
            return stopper;
        }

        public void Release() => _released.Set();

        private void Run()
        {
            int previous;
            Libc.PThreadSetCancelState(Libc.PTHREAD_CANCEL_DISABLE, &previous);
            try
            {
                Mosquitto.LoopStop(_handle, _force);
            }
            catch (ObjectDisposedException)
            {
                // Not reachable while the session waits for this thread; nothing to stop if it were.
            }

            Finished.Set();
            _released.Wait();
        }
    }
}
