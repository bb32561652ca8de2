namespace Kairo.Updates.Device;

// The throughput floor: an attempt that moves too little over any whole window is abandoned.
public sealed partial class PackageDownloader
{
    /// <summary>
    /// Samples the bytes an attempt moved several times per window and cancels the attempt once the bytes moved over
    /// the last whole window fall below the floor. A connection that stays open but carries a trickle (a dying radio
    /// link, a stuck proxy) never errors by itself; without this the download would wait on it for ever.
    /// </summary>
    internal sealed class ThroughputWatch
    {
        /// <summary>Samples per window: the window slides in these steps, so a stall is seen within 1/8 of a window of its end.</summary>
        private const int Slices = 8;

        private readonly Task _watching;
        private long _moved;
        private volatile bool _stalled;

        private ThroughputWatch(TimeSpan window, long minBytesPerWindow, CancellationTokenSource attempt)
        {
            _watching = minBytesPerWindow > 0 ? WatchAsync(window, minBytesPerWindow, attempt) : Task.CompletedTask;
        }

        /// <summary>True once the watch cancelled the attempt for moving too little.</summary>
        public bool Stalled => _stalled;

        /// <summary>Starts watching; the watch ends when <paramref name="attempt"/> is cancelled, by it or by the attempt's end.</summary>
        public static ThroughputWatch Start(DownloadOptions options, CancellationTokenSource attempt)
        {
            long floor = (long)Math.Min(long.MaxValue / 2, options.MinBytesPerSecond * options.ThroughputWindow.TotalSeconds);
            return new ThroughputWatch(options.ThroughputWindow, floor, attempt);
        }

        /// <summary>Counts bytes read; called by the attempt's one reading thread.</summary>
        public void Moved(int bytes) => Volatile.Write(ref _moved, _moved + bytes);

        /// <summary>Waits for the watch to end; the attempt's token must be cancelled first.</summary>
        public Task StopAsync() => _watching;

        private async Task WatchAsync(TimeSpan window, long minBytesPerWindow, CancellationTokenSource attempt)
        {
            TimeSpan slice = window / Slices;
            if (slice < TimeSpan.FromMilliseconds(1))
            {
                slice = TimeSpan.FromMilliseconds(1);
            }

            // samples[i % (Slices + 1)] is the count at the i-th tick; Slices ticks apart make one window.
            long[] samples = new long[Slices + 1];
            long ticks = 0;
            samples[0] = Volatile.Read(ref _moved);
            using var timer = new PeriodicTimer(slice);
            try
            {
                while (await timer.WaitForNextTickAsync(attempt.Token).ConfigureAwait(false))
                {
                    ticks++;
                    long now = Volatile.Read(ref _moved);
                    samples[ticks % (Slices + 1)] = now;
                    if (ticks >= Slices && now - samples[(ticks - Slices) % (Slices + 1)] < minBytesPerWindow)
                    {
                        _stalled = true;
                        await attempt.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The attempt ended (or the caller cancelled): nothing left to watch.
            }
        }
    }
}
