using Microsoft.Extensions.Logging;

namespace Kairo.Control.Mqtt;

public sealed partial class MqttClient
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "MQTT connected to {Broker} (MQTT {Version}, session present: {SessionPresent})")]
        public static partial void Connected(ILogger logger, string broker, string version, bool sessionPresent);

        [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "MQTT connection to {Broker} ended: {Reason} (code {Code}); reconnecting")]
        public static partial void Disconnected(ILogger logger, string broker, string reason, int code);

        [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "MQTT connect to {Broker} failed: {Reason} (code {Code})")]
        public static partial void ConnectFailed(ILogger logger, string broker, string reason, int code);

        [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "MQTT broker {Broker} refused the connection: {Reason} (reason code {Code})")]
        public static partial void Refused(ILogger logger, string broker, string reason, int code);

        [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "MQTT broker {Broker} does not support MQTT 5; using MQTT 3.1.1 from now on (message properties are dropped)")]
        public static partial void FallingBack(ILogger logger, string broker);

        [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "MQTT first connect attempt to {Broker} failed: {Reason}; retrying in the background")]
        public static partial void FirstConnectFailed(ILogger logger, string broker, string reason);

        [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "MQTT network thread for {Broker} ended ({Reason}); starting a new one in {Delay} s")]
        public static partial void RestartScheduled(ILogger logger, string broker, string reason, double delay);

        [LoggerMessage(EventId = 107, Level = LogLevel.Error, Message = "MQTT could not start a new network thread for {Broker}; trying again later")]
        public static partial void RestartFailed(ILogger logger, string broker, Exception exception);

        [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "MQTT network thread for {Broker} did not finish its DISCONNECT within {Timeout} s and was cancelled")]
        public static partial void StopForced(ILogger logger, string broker, double timeout);

        [LoggerMessage(EventId = 116, Level = LogLevel.Warning, Message = "MQTT broker {Broker} had not acknowledged {Open} QoS 1/2 messages after {Timeout} s; disconnecting anyway (should a late acknowledgement arrive first, the broker may publish the last will)")]
        public static partial void AcknowledgementsMissing(ILogger logger, string broker, int open, double timeout);

        [LoggerMessage(EventId = 109, Level = LogLevel.Error, Message = "MQTT network thread for {Broker} could not be stopped in time ({Problem}); its native client stays allocated until it ends")]
        public static partial void StopStuck(ILogger logger, string broker, string? problem);

        [LoggerMessage(EventId = 110, Level = LogLevel.Error, Message = "MQTT {Callback} handler threw; the network thread carries on")]
        public static partial void HandlerFailed(ILogger logger, string callback, Exception exception);

        [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "MQTT broker {Broker} refused message {MessageId}: {Reason} (reason code {Code})")]
        public static partial void PublishRefused(ILogger logger, string broker, int messageId, string reason, int code);

        [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "MQTT broker {Broker} refused the subscription to '{Filter}' (reason code {Code})")]
        public static partial void SubscribeRefused(ILogger logger, string broker, string filter, int code);

        [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "MQTT subscribing to '{Filter}' after connecting failed: {Reason}")]
        public static partial void ResubscribeFailed(ILogger logger, string filter, string reason);

        [LoggerMessage(EventId = 114, Level = LogLevel.Debug, Message = "MQTT client disposed from one of its own handlers; stopping it on another thread")]
        public static partial void ShutdownFromHandler(ILogger logger);

        [LoggerMessage(EventId = 115, Message = "libmosquitto: {Line}")]
        public static partial void LibraryLine(ILogger logger, LogLevel level, string line);
    }
}
