namespace MoqLite.Transport.QMux;

/// <summary>QUIC frame types QMux carries, plus its own extensions.</summary>
internal static class QMuxFrameType
{
    public const ulong Padding = 0x00;
    public const ulong ResetStream = 0x04;
    public const ulong StopSending = 0x05;
    public const ulong StreamBase = 0x08;
    public const ulong StreamMax = 0x0f;
    public const ulong MaxData = 0x10;
    public const ulong MaxStreamData = 0x11;
    public const ulong MaxStreamsBidi = 0x12;
    public const ulong MaxStreamsUni = 0x13;
    public const ulong DataBlocked = 0x14;
    public const ulong StreamDataBlocked = 0x15;
    public const ulong StreamsBlockedBidi = 0x16;
    public const ulong StreamsBlockedUni = 0x17;
    public const ulong ConnectionClose = 0x1c;
    public const ulong ApplicationClose = 0x1d;
    public const ulong ResetStreamAt = 0x24;
    public const ulong Datagram = 0x30;
    public const ulong DatagramWithLength = 0x31;
    public const ulong TransportParameters = 0x3f5153300d0a0d0a;
    public const ulong PingRequest = 0x348c67529ef8c7bd;
    public const ulong PingResponse = 0x348c67529ef8c7be;

    // STREAM type bits.
    public const ulong Fin = 0x01;
    public const ulong Len = 0x02;
    public const ulong Off = 0x04;
}

/// <summary>QMux transport parameter ids.</summary>
internal static class QMuxParameter
{
    public const ulong MaxIdleTimeout = 0x01;
    public const ulong InitialMaxData = 0x04;
    public const ulong InitialMaxStreamDataBidiLocal = 0x05;
    public const ulong InitialMaxStreamDataBidiRemote = 0x06;
    public const ulong InitialMaxStreamDataUni = 0x07;
    public const ulong InitialMaxStreamsBidi = 0x08;
    public const ulong InitialMaxStreamsUni = 0x09;
    public const ulong MaxDatagramFrameSize = 0x20;
    public const ulong ResetStreamAt = 0x1d;
    public const ulong MaxRecordSize = 0x0571c59429cd0845;
    public const ulong ApplicationProtocols = 0x3d4f9c2a8b1e6075;
}
