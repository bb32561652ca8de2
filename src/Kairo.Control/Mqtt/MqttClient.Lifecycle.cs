using Kairo.Control.Interop;

namespace Kairo.Control.Mqtt;

// Starting the network thread over when libmosquitto ends it, and stopping for good.

public sealed partial class MqttClient
{
    // One restart or shutdown at a time; each is bounded by the stop time limit.
    private readonly Lock _lifecycle = new();
    private Timer? _restartTimer;
    private bool _restartPending;
    private bool _failed;
    private TimeSpan _restartDelay;

    /// <summary>
    /// Disconnects normally, so the broker discards the last will (a daemon stopping on purpose publishes its own
    /// offline state first), stops the network thread and frees the native client. Returns within twice
    /// <see cref="MqttClientOptions.StopTimeout"/> whatever the network does.
    /// </summary>
    public void Dispose() => Shutdown(sendWill: false);

    /// <summary>
    /// Ends the connection so that the broker publishes the last will, as if the process had died, then releases
    /// everything like <see cref="Dispose"/>. MQTT 5 sends DISCONNECT "with will message"; 3.1.1 has no such thing,
    /// so the network thread is cancelled and the socket closed without a DISCONNECT.
    /// </summary>
    public void Abort() => Shutdown(sendWill: true);

    private void Shutdown(bool sendWill)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _connected = false;
            _restartTimer?.Dispose();
        }

        if (MosquittoSession.InCallback)
        {
            // Called from one of this client's handlers, on the network thread: stopping that thread from itself
            // would join itself. Finish on another thread; the caller's handler returns and lets the thread end.
            Log.ShutdownFromHandler(_logger);
            new Thread(() => Finish(sendWill)) { IsBackground = true, Name = "kairo-mqtt-shutdown" }.Start();
            return;
        }

        Finish(sendWill);
    }

    /// <summary>
    /// The order matters:
    /// 1. mute the session: no handler runs from here on, and a forced stop never finds managed code on the thread;
    /// 2. DISCONNECT (normal, or with will under MQTT 5), which also tells libmosquitto not to reconnect, so its
    ///    thread writes the packet and ends;
    /// 3. stop the thread: wait for it (time limit), then cancel it (time limit);
    /// 4. destroy the native client, which closes the socket (for a 3.1.1 abort, that is what fires the will);
    /// 5. free the GCHandle last, once no callback can come. A thread that cannot be stopped keeps both forever.
    /// </summary>
    private void Finish(bool sendWill)
    {
        lock (_lifecycle)
        {
            MosquittoSession? session;
            lock (_gate)
            {
                session = _session;
                _session = null;
            }

            if (session == null)
            {
                return;
            }

            session.Mute();
            bool graceful = true;
            if (!sendWill)
            {
                session.Disconnect(Mosquitto.MQTT_RC_NORMAL_DISCONNECTION);
            }
            else if (_protocol == MqttProtocolVersion.Mqtt5)
            {
                session.Disconnect(Mosquitto.MQTT_RC_DISCONNECT_WITH_WILL_MSG);
            }
            else
            {
                graceful = false;
            }

            StopAndRelease(session, graceful);
        }
    }

    /// <returns>False when the thread could not be stopped and the session was abandoned.</returns>
    private bool StopAndRelease(MosquittoSession session, bool graceful)
    {
        LoopStopOutcome outcome = session.Stop(graceful, _options.StopTimeout);
        if (outcome == LoopStopOutcome.Stuck)
        {
            session.Abandon();
            Log.StopStuck(_logger, _broker);
            return false;
        }

        if (outcome == LoopStopOutcome.Forced && graceful)
        {
            Log.StopForced(_logger, _broker, _options.StopTimeout.TotalSeconds);
        }

        session.Release();
        return true;
    }

    /// <summary>
    /// Plans a new network thread: at once for the protocol fallback, otherwise after a delay that doubles up to
    /// <see cref="MqttClientOptions.ReconnectMaxDelay"/> and resets on a successful connect.
    /// </summary>
    private void ScheduleRestart(bool immediately, string reason)
    {
        TimeSpan delay;
        lock (_gate)
        {
            if (_disposed || !_started || _failed || _restartPending)
            {
                return;
            }

            _restartPending = true;
            delay = immediately ? TimeSpan.Zero : _restartDelay;
            if (!immediately)
            {
                _restartDelay = TimeSpan.FromTicks(Math.Min(_restartDelay.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            }

            _restartTimer ??= new Timer(static state => ((MqttClient)state!).Restart(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _restartTimer.Change(delay, Timeout.InfiniteTimeSpan);
        }

        Log.RestartScheduled(_logger, _broker, reason, delay.TotalSeconds);
    }

    /// <summary>
    /// Runs on a timer thread, never the network thread. The old session is stopped like a shutdown (without a will
    /// and usually without anything to send) and replaced by a fresh one, so nothing of a cancelled thread is reused.
    /// </summary>
    private void Restart()
    {
        lock (_lifecycle)
        {
            MosquittoSession? old;
            lock (_gate)
            {
                _restartPending = false;
                if (_disposed)
                {
                    return;
                }

                old = _session;
                _session = null;
                _connected = false;
            }

            if (old != null)
            {
                old.Mute();
                old.Disconnect(Mosquitto.MQTT_RC_NORMAL_DISCONNECTION);
                if (!StopAndRelease(old, graceful: true))
                {
                    lock (_gate)
                    {
                        _failed = true;
                    }

                    return;
                }
            }

            MosquittoSession fresh;
            try
            {
                fresh = CreateSession();
            }
            catch (Exception e)
            {
                Log.RestartFailed(_logger, _broker, e);
                ScheduleRestart(immediately: false, e.Message);
                return;
            }

            lock (_gate)
            {
                if (_disposed)
                {
                    fresh.Release();
                    return;
                }

                _session = fresh;
            }

            try
            {
                Connect(fresh);
            }
            catch (Exception e)
            {
                Log.RestartFailed(_logger, _broker, e);
                ScheduleRestart(immediately: false, e.Message);
            }
        }
    }
}
