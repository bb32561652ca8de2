using Kairo.Control.Interop;

namespace Kairo.Control.Mqtt;

// Setting up one native session from the options, and starting it.

public sealed partial class MqttClient
{
    /// <summary>Reads the password and checks the TLS files, so a wrong path or mode fails here with its name.</summary>
    private void ReadFiles()
    {
        if (_options.PasswordFile is { } passwordFile)
        {
            _password = SecretFile.ReadPassword(passwordFile, nameof(MqttClientOptions.PasswordFile));
        }

        if (_options.Tls is { } tls)
        {
            CheckReadable(tls.CaFile, "Tls.CaFile");
            CheckReadable(tls.CertFile, "Tls.CertFile");
            if (tls.KeyFile != null)
            {
                SecretFile.CheckPrivate(tls.KeyFile, "Tls.KeyFile");
            }
        }
    }

    private static void CheckReadable(string? path, string option)
    {
        if (path != null && !File.Exists(path))
        {
            throw new FileNotFoundException($"MQTT option {option}: the file '{path}' does not exist; fix the path.", path);
        }
    }

    private MosquittoSession CreateSession()
    {
        MosquittoSession session = MosquittoSession.Create(_options.ClientId, this);
        try
        {
            session.SetProtocolVersion(_protocol);
            session.SetReconnectDelay(WholeSeconds(_options.ReconnectMinDelay), WholeSeconds(_options.ReconnectMaxDelay));
            if (!string.IsNullOrEmpty(_options.Username))
            {
                session.SetCredentials(_options.Username, _password);
            }

            if (_options.Will is { } will)
            {
                session.SetWill(will.Topic, will.Payload.Span, will.Qos, will.Retain);
            }

            if (_address.UseTls)
            {
                string? caFile = _options.Tls?.CaFile;
                session.SetTls(caFile, caFile == null ? SystemCaPath : null, _options.Tls?.CertFile, _options.Tls?.KeyFile);
            }

            return session;
        }
        catch
        {
            session.Release();
            throw;
        }
    }

    /// <summary>
    /// Starts connecting and starts the network thread. Only settings libmosquitto rejects outright throw; a broker
    /// that is down or unknown yet is retried by the network thread.
    /// </summary>
    private void Connect(MosquittoSession session)
    {
        int rc = session.ConnectAsync(_address.Host, _address.Port, (int)_options.KeepAlive.TotalSeconds);
        if (rc is Mosquitto.MOSQ_ERR_INVAL or Mosquitto.MOSQ_ERR_NOMEM)
        {
            Mosquitto.ThrowError(rc, $"Connecting to {_broker}");
        }

        if (rc != Mosquitto.MOSQ_ERR_SUCCESS)
        {
            Log.FirstConnectFailed(_logger, _broker, Mosquitto.ErrorText(rc));
        }

        session.StartLoop();
    }

    /// <summary>libmosquitto's reconnect delays are whole seconds; 0 would retry without pause.</summary>
    private static uint WholeSeconds(TimeSpan delay) => (uint)Math.Max(1, Math.Ceiling(delay.TotalSeconds));
}
