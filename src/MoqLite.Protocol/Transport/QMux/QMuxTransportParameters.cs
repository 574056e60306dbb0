using System.Buffers;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

/// <summary>QX_TRANSPORT_PARAMETERS: the QUIC limits each side grants the other at the start.</summary>
public sealed record QMuxTransportParameters
{
    /// <summary>The smallest (and default) max_record_size.</summary>
    public const ulong DefaultMaxRecordSize = 16382;

    /// <summary>Idle timeout in milliseconds; 0 disables it.</summary>
    public ulong MaxIdleTimeoutMs { get; init; }

    /// <summary>Connection-level receive window in bytes.</summary>
    public ulong InitialMaxData { get; init; }

    /// <summary>Receive window for bidirectional streams this side opens.</summary>
    public ulong InitialMaxStreamDataBidiLocal { get; init; }

    /// <summary>Receive window for bidirectional streams the peer opens.</summary>
    public ulong InitialMaxStreamDataBidiRemote { get; init; }

    /// <summary>Receive window for unidirectional streams the peer opens.</summary>
    public ulong InitialMaxStreamDataUni { get; init; }

    /// <summary>Bidirectional streams the peer may open.</summary>
    public ulong InitialMaxStreamsBidi { get; init; }

    /// <summary>Unidirectional streams the peer may open.</summary>
    public ulong InitialMaxStreamsUni { get; init; }

    /// <summary>Largest WebSocket message (record) accepted (qmux-01/02).</summary>
    public ulong MaxRecordSize { get; init; } = DefaultMaxRecordSize;

    /// <summary>Writes the whole QX_TRANSPORT_PARAMETERS frame; parameters are omitted when zero.</summary>
    internal void WriteFrame(IBufferWriter<byte> output, QMuxVersion version)
    {
        var body = new ArrayBufferWriter<byte>(128);
        Add(body, QMuxParameter.MaxIdleTimeout, version == QMuxVersion.Draft00 ? 0 : MaxIdleTimeoutMs);
        Add(body, QMuxParameter.InitialMaxData, InitialMaxData);
        Add(body, QMuxParameter.InitialMaxStreamDataBidiLocal, InitialMaxStreamDataBidiLocal);
        Add(body, QMuxParameter.InitialMaxStreamDataBidiRemote, InitialMaxStreamDataBidiRemote);
        Add(body, QMuxParameter.InitialMaxStreamDataUni, InitialMaxStreamDataUni);
        Add(body, QMuxParameter.InitialMaxStreamsBidi, InitialMaxStreamsBidi);
        Add(body, QMuxParameter.InitialMaxStreamsUni, InitialMaxStreamsUni);
        if (version != QMuxVersion.Draft00)
        {
            Add(body, QMuxParameter.MaxRecordSize, MaxRecordSize);
        }
        VarInt.Write(output, QMuxFrameType.TransportParameters);
        VarInt.Write(output, (ulong)body.WrittenCount);
        output.Write(body.WrittenSpan);
    }

    /// <summary>Parses the parameter list (after the frame type and length).</summary>
    internal static QMuxTransportParameters Read(ReadOnlySpan<byte> body)
    {
        var result = new QMuxTransportParameters { MaxRecordSize = DefaultMaxRecordSize };
        var seen = new HashSet<ulong>();
        while (!body.IsEmpty)
        {
            var id = Take(ref body);
            var length = Take(ref body);
            if (length > (ulong)body.Length)
            {
                throw Violation("transport parameter longer than the frame");
            }
            var value = body[..(int)length];
            body = body[(int)length..];
            if (id is 0x00 or 0x02 or 0x03 or (>= 0x0a and <= 0x10) || id == QMuxParameter.ApplicationProtocols)
            {
                throw Violation($"transport parameter 0x{id:x} is not allowed over WebSocket");
            }
            var known = id is QMuxParameter.MaxIdleTimeout or (>= QMuxParameter.InitialMaxData and <= QMuxParameter.InitialMaxStreamsUni)
                or QMuxParameter.MaxDatagramFrameSize or QMuxParameter.ResetStreamAt or QMuxParameter.MaxRecordSize;
            if (known && !seen.Add(id))
            {
                throw Violation($"duplicate transport parameter 0x{id:x}");
            }
            if (id == QMuxParameter.ResetStreamAt || !known)
            {
                continue;
            }
            var number = Take(ref value);
            if (!value.IsEmpty)
            {
                throw Violation($"trailing bytes in transport parameter 0x{id:x}");
            }
            result = id switch
            {
                QMuxParameter.MaxIdleTimeout => result with { MaxIdleTimeoutMs = number },
                QMuxParameter.InitialMaxData => result with { InitialMaxData = number },
                QMuxParameter.InitialMaxStreamDataBidiLocal => result with { InitialMaxStreamDataBidiLocal = number },
                QMuxParameter.InitialMaxStreamDataBidiRemote => result with { InitialMaxStreamDataBidiRemote = number },
                QMuxParameter.InitialMaxStreamDataUni => result with { InitialMaxStreamDataUni = number },
                QMuxParameter.InitialMaxStreamsBidi => result with { InitialMaxStreamsBidi = number },
                QMuxParameter.InitialMaxStreamsUni => result with { InitialMaxStreamsUni = number },
                QMuxParameter.MaxRecordSize when number < DefaultMaxRecordSize => throw Violation("max_record_size below 16382"),
                QMuxParameter.MaxRecordSize => result with { MaxRecordSize = number },
                _ => result,
            };
        }
        return result;
    }

    private static void Add(ArrayBufferWriter<byte> body, ulong id, ulong value)
    {
        if (value == 0)
        {
            return;
        }
        VarInt.Write(body, id);
        VarInt.Write(body, (ulong)VarInt.Size(value));
        VarInt.Write(body, value);
    }

    internal static ulong Take(ref ReadOnlySpan<byte> span)
    {
        if (!VarInt.TryRead(span, out var value, out var consumed))
        {
            throw Violation("frame ends in the middle of a varint");
        }
        span = span[consumed..];
        return value;
    }

    internal static ProtocolViolationException Violation(string message) => new($"qmux: {message}");
}
