"""Operations: metrics, the live dashboard, reports, the demo."""
