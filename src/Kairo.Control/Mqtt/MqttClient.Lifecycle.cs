using Kairo.Control.Interop;

namespace Kairo.Control.Mqtt;

// Starting the network thread over when libmosquitto ends it, and stopping for good.

public sealed partial class MqttClient
{
    // One restart or shutdown at a time; each is bounded by the stop time limit.
    private readonly Lock _lifecycle = new();
    private Timer? _restartTimer;
    private bool _restartPending;
    private TimeSpan _restartDelay;

    /// <summary>
    /// Disconnects normally, once the broker has acknowledged what was published with QoS 1 or 2, so the broker
    /// discards the last will (a daemon stopping on purpose publishes its own offline state first), stops the network
    /// thread and frees the native client. Returns within two and a half times
    /// <see cref="MqttClientOptions.StopTimeout"/> whatever the network does (four and a half times if a reconnect is
    /// being set up at that moment).
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
    /// 0. for a normal disconnect, wait (up to half the stop timeout) for the broker's acknowledgements of what was
    ///    published with QoS 1 or 2: one read after the DISCONNECT is requested would make libmosquitto drop the
    ///    connection without it, and the broker would publish the will;
    /// 1. mute the session: no handler runs from here on;
    /// 2. DISCONNECT (normal, or with will under MQTT 5), which also tells libmosquitto not to reconnect, so its
    ///    thread writes the packet and ends; a 3.1.1 abort sends nothing;
    /// 3. stop the thread: join it if it reported the DISCONNECT within the time limit, otherwise take the callbacks
    ///    out of libmosquitto and cancel it;
    /// 4. destroy the native client, which closes the socket (for a 3.1.1 abort, that is what fires the will);
    /// 5. free the GCHandle last, once no callback can come.
    /// Steps 3 to 5 run on a helper thread that is waited for up to the time limit (see MosquittoSession.Close).
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

            if (!sendWill && session.WaitForAcknowledgements(_options.StopTimeout / 2) is > 0 and var open)
            {
                Log.AcknowledgementsMissing(_logger, _broker, open, _options.StopTimeout.TotalSeconds / 2);
            }

            session.Mute();
            int rc = Mosquitto.MOSQ_ERR_NO_CONN;
            if (!sendWill)
            {
                rc = session.Disconnect(Mosquitto.MQTT_RC_NORMAL_DISCONNECTION);
            }
            else if (_protocol == MqttProtocolVersion.Mqtt5)
            {
                rc = session.Disconnect(Mosquitto.MQTT_RC_DISCONNECT_WITH_WILL_MSG);
            }

            Close(session, graceful: rc == Mosquitto.MOSQ_ERR_SUCCESS);
        }
    }

    private void Close(MosquittoSession session, bool graceful)
    {
        SessionCloseOutcome outcome = session.Close(graceful, _options.StopTimeout, out string? problem);
        if (outcome == SessionCloseOutcome.Stuck)
        {
            Log.StopStuck(_logger, _broker, problem);
        }
        else if (outcome == SessionCloseOutcome.Cancelled && graceful)
        {
            Log.StopForced(_logger, _broker, _options.StopTimeout.TotalSeconds);
        }
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
            if (_disposed || !_started || _restartPending)
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
    /// Runs on a timer thread, never the network thread. The old session is closed like a shutdown (without a will,
    /// usually with nothing to send) and replaced by a fresh one, so nothing of a cancelled thread is reused.
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
                // Even a session that could not be closed does not stop the client: the new one is independent.
                old.Mute();
                Close(old, graceful: old.Disconnect(Mosquitto.MQTT_RC_NORMAL_DISCONNECTION) == Mosquitto.MOSQ_ERR_SUCCESS);
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
