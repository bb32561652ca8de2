namespace Kairo.Hardware.Systemd;

public sealed partial class SystemdNotifier
{
    /// <summary>The thread behind <see cref="StartWatchdog"/>: a keep-alive every period while the daemon says it is healthy.</summary>
    private sealed class WatchdogKeepAlive : IDisposable
    {
        private readonly SystemdNotifier _owner;
        private readonly Func<bool> _healthy;
        private readonly TimeSpan _period;
        private readonly ManualResetEventSlim _stop = new(false);
        private readonly Thread _thread;
        private int _disposed;

        public WatchdogKeepAlive(SystemdNotifier owner, Func<bool> healthy, TimeSpan period)
        {
            _owner = owner;
            _healthy = healthy;
            _period = period;
            _thread = new Thread(Run) { IsBackground = true, Name = "kairo-watchdog" };
            _thread.Start();
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _stop.Set();
            _thread.Join();
            _stop.Dispose();
            _owner.KeepAliveEnded(this);
        }

        private void Run()
        {
            bool withholding = false;
            do
            {
                bool healthy;
                try
                {
                    healthy = _healthy();
                }
                catch (Exception e)
                {
                    healthy = false;
                    if (!withholding)
                    {
                        Log.HealthCheckFailed(_owner._logger, e);
                    }
                }

                if (healthy)
                {
                    _owner.Watchdog();
                    if (withholding)
                    {
                        withholding = false;
                        Log.Resuming(_owner._logger);
                    }
                }
                else if (!withholding)
                {
                    withholding = true;
                    Log.Withholding(_owner._logger, (_period * 2).TotalSeconds);
                }
            }
            while (!_stop.Wait(_period));
        }
    }
}
