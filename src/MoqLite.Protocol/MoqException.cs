namespace MoqLite;

/// <summary>An error in a MOQ session, carrying the application error code that goes on the wire.</summary>
public class MoqException : Exception
{
    /// <summary>Creates an error with a code and message.</summary>
    public MoqException(MoqErrorCode code, string message, Exception? inner = null)
        : base(message, inner) => Code = code;

    /// <summary>The MOQ error code.</summary>
    public MoqErrorCode Code { get; }

    /// <summary>The code to reset a stream with when a writer is completed with <paramref name="exception"/>.</summary>
    internal static ulong ResetCode(Exception exception) =>
        exception is MoqException moq ? (ulong)moq.Code : (ulong)MoqErrorCode.Cancel;
}

/// <summary>
/// The peer sent malformed, oversized or unexpected input. The session that received it is closed
/// with <see cref="MoqErrorCode.ProtocolViolation"/>; no other session is affected.
/// </summary>
public sealed class ProtocolViolationException : MoqException
{
    /// <summary>Creates a protocol violation with a description of what was wrong.</summary>
    public ProtocolViolationException(string message)
        : base(MoqErrorCode.ProtocolViolation, message) { }
}

/// <summary>The peer reset a stream (or asked us to stop sending on it) with an application code.</summary>
public sealed class MoqStreamAbortedException : MoqException
{
    /// <summary>Creates the exception for a stream the peer aborted.</summary>
    public MoqStreamAbortedException(ulong code, string message)
        : base((MoqErrorCode)code, message) => WireCode = code;

    /// <summary>The raw application error code the peer sent.</summary>
    public ulong WireCode { get; }
}
