using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Sinks;

namespace Kairo.Runtime.Loops;

// The loop thread. Everything here runs every tick: no allocation, no formatting, no locks, no waits but the deadline.
public sealed partial class ControlLoop
{
    private const int NoMiss = -1;

    private void RunTicks()
    {
        var metrics = Metrics;
        var buffers = _buffers;
        long release = MonotonicClock.NowNanoseconds() + Volatile.Read(ref _periodNanoseconds);
        long allocatedAtWarmup = 0;
        int warmup = _options.WarmupTicks;
        long gcPauseTicks = GC.GetTotalPauseDuration().Ticks;
        Volatile.Write(ref _idleUntil, release);

        while (!_stopRequested)
        {
            MonotonicClock.SleepUntil(release);
            long wake = MonotonicClock.NowNanoseconds();
            if (_stopRequested)
            {
                break;
            }

            AdoptPendingModel();
            ulong tick = ++_tick;
            if (!_source.TryRead(buffers.Input.Span, out _))
            {
                metrics.CountStale();
            }

            long deadline = release + Volatile.Read(ref _deadlineNanoseconds);
            long finished = wake;
            int missed = NoMiss;
            FrameFlags flags = FrameFlags.None;
            bool emit = true;
            if (_safeOverride)
            {
                flags = FrameFlags.Safe;
            }
            else
            {
                long started = MonotonicClock.NowNanoseconds();
                bool ok = RunInference();
                finished = MonotonicClock.NowNanoseconds();
                metrics.Inference.Record(finished - started);
                if (!ok)
                {
                    missed = (int)MissCause.InferenceError;
                    metrics.CountMiss(MissCause.InferenceError);
                    flags = FrameFlags.Safe;
                }
                else
                {
                    CarryState(buffers);
                    if (HasNan(buffers))
                    {
                        metrics.CountNan();
                    }

                    if (finished > deadline)
                    {
                        missed = (int)(wake > deadline ? MissCause.LateWakeup : MissCause.SlowInference);
                        metrics.CountMiss((MissCause)missed);
                        switch (_options.MissPolicy)
                        {
                            case MissPolicy.Skip: emit = false; break;
                            case MissPolicy.Hold: flags = FrameFlags.Held; break;
                            default: flags = FrameFlags.Safe; break;
                        }
                    }
                    else
                    {
                        buffers.Output.Span.CopyTo(buffers.LastOutput);
                    }
                }
            }

            if (emit)
            {
                Emit(tick, flags);
            }
            else
            {
                metrics.CountSkipped();
            }

            long end = MonotonicClock.NowNanoseconds();
            metrics.WakeLateness.Record(wake - release);
            metrics.EndToEnd.Record(end - release);
            metrics.CountTick();

            if (--warmup == 0)
            {
                allocatedAtWarmup = GC.GetAllocatedBytesForCurrentThread();
            }
            else if (warmup < 0)
            {
                metrics.SetAllocatedBytes(GC.GetAllocatedBytesForCurrentThread() - allocatedAtWarmup);
            }

            long period = Volatile.Read(ref _periodNanoseconds);
            long next = release + period;
            long behind = 0;
            if (end > next)
            {
                // Fell behind by whole periods: count them and realign rather than run a burst of late ticks.
                behind = ((end - next) / period) + 1;
                metrics.CountMiss(MissCause.Overrun, behind);
            }

            // The process's collection pauses so far: a plain read of the collector's running total.
            long pausedTicks = GC.GetTotalPauseDuration().Ticks;
            if (missed != NoMiss || behind > 0)
            {
                var cause = missed == NoMiss ? MissCause.Overrun : (MissCause)missed;
                long gcPause = (pausedTicks - gcPauseTicks) * (1_000_000_000 / TimeSpan.TicksPerSecond);
                metrics.RecordMiss(new MissRecord(0, tick, cause, behind, release, deadline, wake, finished, end, period, gcPause));
            }

            gcPauseTicks = pausedTicks;

            release = next + (behind * period);
            Volatile.Write(ref _idleUntil, release);
        }

        Volatile.Write(ref _idleUntil, long.MaxValue);

        // The last word of a stopping loop is its safe output.
        Emit(++_tick, FrameFlags.Safe);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AdoptPendingModel()
    {
        var next = Interlocked.Exchange(ref _pending, null);
        if (next == null)
        {
            return;
        }

        _retired = _current;
        Volatile.Write(ref _current, next);
        Metrics.CountSwap();
        Volatile.Read(ref _swapped)?.Set();
    }

    private bool RunInference()
    {
        try
        {
            _current.Binding.Run(_runOptions);
            return true;
        }
        catch (Exception)
        {
            // Counted by the caller; the error text would need formatting here, which the loop thread never does.
            return false;
        }
    }

    private void Emit(ulong tick, FrameFlags flags)
    {
        ReadOnlySpan<byte> payload = flags switch
        {
            FrameFlags.Safe => _buffers.SafeOutput,
            FrameFlags.Held => _buffers.LastOutput,
            _ => _buffers.Output.Span,
        };
        switch (flags)
        {
            case FrameFlags.Safe: Metrics.CountSafe(); break;
            case FrameFlags.Held: Metrics.CountHeld(); break;
            default: Metrics.CountFresh(); break;
        }

        var frame = new TickFrame(tick, MonotonicClock.NowNanoseconds(), flags, _current.Version);
        foreach (var sink in _sinks)
        {
            sink.Write(frame, payload);
        }
    }

    private static void CarryState(LoopBuffers buffers)
    {
        foreach (var (from, to, length) in buffers.StateCopies)
        {
            buffers.Output.Slice(from, length).CopyTo(buffers.State.Slice(to, length));
        }
    }

    private static bool HasNan(LoopBuffers buffers)
    {
        foreach (var (offset, count) in buffers.FloatOutputs)
        {
            var values = MemoryMarshal.Cast<byte, float>(buffers.Output.Slice(offset, count * 4));
            foreach (float v in values)
            {
                if (float.IsNaN(v))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
