namespace MoqLite.Transport.QMux;

/// <summary>Windows and timers for a QMux connection.</summary>
public sealed class QMuxOptions
{
    /// <summary>Connection receive window, replenished as data is consumed. Default 16 MiB.</summary>
    public ulong ReceiveWindow { get; set; } = 16 * 1024 * 1024;

    /// <summary>Per-stream receive window, replenished as data is consumed. Default 1 MiB.</summary>
    public ulong StreamReceiveWindow { get; set; } = 1024 * 1024;

    /// <summary>Streams of each kind the peer may have open at once; credit is granted continuously as they finish. Default 256.</summary>
    public ulong MaxConcurrentStreams { get; set; } = 256;

    /// <summary>
    /// Largest WebSocket message accepted from the peer on qmux-01/02, advertised as max_record_size (at least
    /// 16382, at most 65535). Default 65535: a peer with several groups ready sends them in one message rather than
    /// one message each. The receive buffer starts at 16 KiB and grows to this only if the peer sends that much.
    /// </summary>
    public int MaxRecordSize { get; set; } = 65535;

    /// <summary>Idle timeout advertised (qmux-01/02); the connection closes when nothing arrives for this long. Default 30 s.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes an application may buffer on one stream before its flush waits for the network. Default 256 KiB.</summary>
    public long StreamSendBuffer { get; set; } = 256 * 1024;
}
